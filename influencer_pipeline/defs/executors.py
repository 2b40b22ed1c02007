"""The code location's executor: Dagster's default, dagster-celery's, or dagster-k8s's.

``$INFLUENCER_EXECUTOR`` chooses:

- unset or ``default``: ``LOCAL_EXECUTOR``, every step in the run's process unless the run config
  asks for ``multiprocess`` (a process per step); the CLI, the sensors and the UI use it;
- ``celery``: every step of a run is a Celery task (``dagster_celery``), executed by whichever
  ``dagster-celery worker`` listens on the step's queue: face detection and embedding
  (``FACES_QUEUE``, a GPU worker in production) and everything else (``LIGHT_QUEUE``). Broker,
  result backend and Celery settings come from ``$INFLUENCER_EXECUTOR_CONFIG`` or
  ``deploy/celery/celery.yaml``, the same file the workers start with (``-y``), so both sides
  agree. The run config can still pick ``in_process`` or ``multiprocess`` for one run
  (``execution: config: in_process: {}``); ``celery: {...}`` overrides the file's keys;
- ``k8s``: every step is its own Kubernetes Job (``dagster_k8s.k8s_job_executor``), configured
  from ``$INFLUENCER_EXECUTOR_CONFIG`` or ``deploy/k8s/executor.yaml``; it needs an instance whose
  run launcher is the ``K8sRunLauncher`` (``deploy/k8s/dagster.yaml``).

The celery and k8s executors need optional packages (``influencer_pipeline[celery]``, ``[k8s]``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from influencer_pipeline.paths import project_dir

EXECUTOR_ENV = "INFLUENCER_EXECUTOR"
EXECUTOR_CONFIG_ENV = "INFLUENCER_EXECUTOR_CONFIG"
EXECUTOR_KINDS = ("default", "celery", "k8s")
CONFIG_FILES = {"celery": "deploy/celery/celery.yaml", "k8s": "deploy/k8s/executor.yaml"}

# dagster-celery routes a step to the queue named by this op tag (else the default queue)
CELERY_QUEUE_TAG = "dagster-celery/queue"
FACES_QUEUE = "faces"  # face detection and embedding: GPU workers in production
LIGHT_QUEUE = "light"  # everything else: CPU workers (task_default_queue in the celery config)
FACES_OP_TAGS = {CELERY_QUEUE_TAG: FACES_QUEUE}


class ExecutorSetupError(RuntimeError):
    """The configured executor cannot be set up; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def executor_config(kind: str, path: str | None = None) -> dict[str, Any]:
    """The mapping in ``path`` or the kind's default config file."""
    file = Path(path) if path else project_dir() / CONFIG_FILES[kind]
    try:
        loaded = yaml.safe_load(file.read_text()) or {}
    except OSError as exc:
        raise ExecutorSetupError(
            "config_not_found",
            f"{kind} executor config {file} cannot be read ({exc}); set "
            f"${EXECUTOR_CONFIG_ENV} to its path",
        ) from exc
    if not isinstance(loaded, dict):
        raise ExecutorSetupError("bad_config", f"{file} must hold a mapping of executor settings")
    return loaded


def celery_file_config(path: str | None = None) -> dict[str, Any]:
    """The celery executor settings of a worker config file (its ``execution: config:`` block)."""
    loaded = executor_config("celery", path)
    block = (loaded.get("execution") or {}).get("config")
    if not isinstance(block, dict):
        raise ExecutorSetupError(
            "bad_config",
            f"{path or CONFIG_FILES['celery']} must hold `execution: config:` with the celery "
            "executor's settings (the format `dagster-celery worker start -y` reads)",
        )
    return block


def _requirements(config: Mapping[str, Any]) -> list[Any]:
    return [] if "in_process" in config else dg.multiple_process_executor_requirements()


def celery_or_local_executor(file_config: Mapping[str, Any]) -> dg.ExecutorDefinition:
    """An executor whose run config selects ``celery`` (default), ``multiprocess`` or
    ``in_process``; the celery branch defaults to ``file_config`` (broker, backend, ...)."""
    try:
        from dagster_celery import celery_executor
        from dagster_celery.executor import CELERY_CONFIG
    except ImportError as exc:
        raise ExecutorSetupError(
            "missing_package",
            f"${EXECUTOR_ENV}=celery needs the dagster-celery package: "
            "pip install 'influencer_pipeline[celery]'",
        ) from exc
    unknown = sorted(set(file_config) - set(CELERY_CONFIG))
    if unknown:
        raise ExecutorSetupError(
            "bad_config",
            f"unknown celery executor settings {unknown}; known: {sorted(CELERY_CONFIG)}",
        )
    celery_fields = dict(CELERY_CONFIG)
    for name, value in file_config.items():  # the file's settings become the defaults
        field = CELERY_CONFIG[name]
        celery_fields[name] = dg.Field(
            field.config_type,
            is_required=False,
            default_value=value,
            description=field.description,
        )
    return choice_executor(
        "celery_or_local",
        {"celery": (celery_executor, dg.Field(celery_fields)), **LOCAL_CHOICES},
        default="celery",
    )


LOCAL_CHOICES = {
    "in_process": (dg.in_process_executor, dg.in_process_executor.config_schema.as_field()),
    "multiprocess": (dg.multiprocess_executor, dg.multiprocess_executor.config_schema.as_field()),
}


def choice_executor(
    name: str, choices: Mapping[str, tuple[dg.ExecutorDefinition, dg.Field]], default: str
) -> dg.ExecutorDefinition:
    """An executor whose run config picks one of ``choices`` (``execution: config: <name>:``),
    ``default`` when the run config names none."""

    @dg.executor(
        name=name,
        config_schema=dg.Field(
            dg.Selector({key: field for key, (_, field) in choices.items()}),
            default_value={default: {}},
        ),
        requirements=_requirements,
    )
    def _executor(init_context: dg.InitExecutorContext) -> dg.Executor:
        ((key, config),) = init_context.executor_config.items()
        chosen = choices[key][0]
        inner = dg.InitExecutorContext(
            job=init_context.job,
            executor_def=chosen,
            executor_config=config,
            instance=init_context.instance,
        )
        return chosen.executor_creation_fn(inner)

    return _executor


# In process unless a run asks for `multiprocess`: the fastest measured on a single machine (a
# per-video run's steps mostly follow one another and torch already uses every core, while a
# process per step pays Dagster's and torch's imports again; benchmarks/RESULTS.md).
LOCAL_EXECUTOR = choice_executor("local", LOCAL_CHOICES, default="in_process")


def executor_from_env() -> dg.ExecutorDefinition:
    """The executor ``$INFLUENCER_EXECUTOR`` names (unset: ``LOCAL_EXECUTOR``)."""
    kind = os.environ.get(EXECUTOR_ENV, "").strip().lower() or "default"
    if kind == "default":
        return LOCAL_EXECUTOR
    config_file = os.environ.get(EXECUTOR_CONFIG_ENV) or None
    if kind == "celery":
        return celery_or_local_executor(celery_file_config(config_file))
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
    return k8s_job_executor.configured(executor_config(kind, config_file))
