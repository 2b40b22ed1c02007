"""The code location's executor: Dagster's default, or dagster-k8s's ``k8s_job_executor``.

``$INFLUENCER_EXECUTOR`` chooses: unset (or ``default``) keeps Dagster's
``multi_or_in_process_executor`` (one process per step on the run's machine; what the CLI and the
tests use); ``k8s`` runs every step of every run as its own Kubernetes Job with
``dagster_k8s.k8s_job_executor``, configured from ``$INFLUENCER_EXECUTOR_CONFIG`` or
``deploy/k8s/executor.yaml`` (step resources, the GPU step's node and limits). The k8s executor
needs the optional ``dagster-k8s`` package and an instance whose run launcher is the
``K8sRunLauncher`` (``deploy/k8s/dagster.yaml``).
"""

import os
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from influencer_pipeline.paths import project_dir

EXECUTOR_ENV = "INFLUENCER_EXECUTOR"
EXECUTOR_CONFIG_ENV = "INFLUENCER_EXECUTOR_CONFIG"
EXECUTOR_KINDS = ("default", "k8s")


class ExecutorSetupError(RuntimeError):
    """The configured executor cannot be set up; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def executor_config(kind: str, path: str | None = None) -> dict[str, Any]:
    """The executor's config mapping from ``path`` or ``deploy/<kind>/executor.yaml``."""
    config_path = Path(path) if path else project_dir() / "deploy" / kind / "executor.yaml"
    try:
        loaded = yaml.safe_load(config_path.read_text()) or {}
    except OSError as exc:
        raise ExecutorSetupError(
            "config_not_found",
            f"{kind} executor config {config_path} cannot be read ({exc}); set "
            f"${EXECUTOR_CONFIG_ENV} to its path",
        ) from exc
    if not isinstance(loaded, dict):
        raise ExecutorSetupError(
            "bad_config", f"{config_path} must hold a mapping of executor settings"
        )
    return loaded


def executor_from_env() -> dg.ExecutorDefinition | None:
    """The executor ``$INFLUENCER_EXECUTOR`` names; None keeps Dagster's default executor."""
    kind = os.environ.get(EXECUTOR_ENV, "").strip().lower() or "default"
    if kind == "default":
        return None
    if kind != "k8s":
        raise ExecutorSetupError(
            "unknown_executor",
            f"${EXECUTOR_ENV}={kind!r} is not one of {', '.join(EXECUTOR_KINDS)}",
        )
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError as exc:
        raise ExecutorSetupError(
            "missing_package",
            f"${EXECUTOR_ENV}=k8s needs the dagster-k8s package: "
            "pip install 'influencer_pipeline[k8s]'",
        ) from exc
    return k8s_job_executor.configured(
        executor_config(kind, os.environ.get(EXECUTOR_CONFIG_ENV) or None)
    )
