"""deploy/k8s checked offline: the Dagster configs against dagster-k8s's schemas, and the Kubernetes
Jobs they produce against the Kubernetes API's own JSON schemas.

No cluster runs here (../shared/DESIGN.md §4), so the check is what a ``kubeconform`` run in CI
would do: ``executor.yaml`` is validated against ``k8s_job_executor``'s config schema and
``dagster.yaml`` against the instance schema and the ``K8sRunLauncher``'s; then every step of
the pipeline's jobs becomes the ``batch/v1`` Job the executor would create (dagster-k8s's own
``construct_dagster_k8s_job``, with the executor's step and per-step config merged the way its
step handler merges them), serialized by the Kubernetes client and validated strictly (unknown
fields rejected) by ``kubernetes-validate``'s bundled schemas; so is the run worker's Job.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import pytest
import yaml
from dagster._config import process_config
from dagster_k8s import K8sRunLauncher, construct_dagster_k8s_job, k8s_job_executor
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import UserDefinedDagsterK8sConfig
from kubernetes.client import ApiClient

from influencer_pipeline.defs.executors import executor_from_env
from influencer_pipeline_tests.conftest import PROJECT_DIR

K8S_DIR = PROJECT_DIR / "deploy" / "k8s"
KUBERNETES_VERSION = kubernetes_validate.latest_version()
IMAGE = "registry.example.com/influencer-pipeline:1"  # the image is the deployment's choice


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _processed(config_type: Any, value: dict[str, Any], what: str) -> dict[str, Any]:
    result = process_config(config_type, value)
    assert result.success, f"{what}: " + "; ".join(e.message for e in result.errors or [])
    return result.value


@pytest.fixture()
def pg_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The DAGSTER_PG_* settings the instance config reads (values do not matter offline)."""
    for name, value in {
        "DAGSTER_PG_HOST": "postgres",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USERNAME": "dagster",
        "DAGSTER_PG_PASSWORD": "secret",
        "DAGSTER_PG_DB": "dagster",
    }.items():
        monkeypatch.setenv(name, value)


def _launcher_config() -> dict[str, Any]:
    config = _yaml(K8S_DIR / "dagster.yaml")["run_launcher"]
    assert (config["module"], config["class"]) == ("dagster_k8s.launcher", "K8sRunLauncher")
    return _processed(K8sRunLauncher.config_type(), config["config"], "run_launcher")


def _validated(job: Any) -> dict[str, Any]:
    manifest = ApiClient().sanitize_for_serialization(job)
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    return manifest


def test_instance_config_is_valid(pg_env: None, tmp_path: Path) -> None:
    from dagster._core.instance.config import dagster_instance_config
    from dagster_postgres import DagsterPostgresStorage

    (tmp_path / "dagster.yaml").write_text((K8S_DIR / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    _processed(DagsterPostgresStorage.config_type(), config["storage"]["postgres"], "storage")
    launcher = _launcher_config()
    assert launcher["env_secrets"] == ["influencer-lake"]  # INFLUENCER_LAKE + store credentials


def test_executor_config_and_the_step_jobs_it_makes_are_valid_kubernetes(
    pg_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFLUENCER_EXECUTOR", "k8s")
    monkeypatch.delenv("INFLUENCER_EXECUTOR_CONFIG", raising=False)
    assert executor_from_env() is not None  # the code location's choice loads the file
    executor = _processed(
        k8s_job_executor.config_schema.config_type, _yaml(K8S_DIR / "executor.yaml"), "executor"
    )
    launcher = SimpleNamespace(**_launcher_config(), job_image=IMAGE)
    base = K8sContainerContext(
        env_secrets=executor.get("env_secrets"),
        namespace=executor.get("job_namespace"),
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(executor.get("step_k8s_config", {})),
    )
    from influencer_pipeline.definitions import defs

    ops = sorted(
        {
            node.name
            for name in ("catalog_job", "per_video_job", "cross_video_job")
            for node in defs.resolve_job_def(name).graph.nodes
        }
    )
    unknown = set(executor.get("per_step_k8s_config", {})) - set(ops)
    assert not unknown, f"per_step_k8s_config names steps the jobs do not have: {unknown}"
    pods: dict[str, dict[str, Any]] = {}
    for op in ops:
        context = base.merge(
            K8sContainerContext(
                run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(
                    executor.get("per_step_k8s_config", {}).get(op, {})
                )
            )
        )
        name = f"dagster-step-{op.replace('_', '-')}"[:63]
        job = construct_dagster_k8s_job(
            job_config=context.get_k8s_job_config(IMAGE, launcher),
            args=["dagster", "api", "execute_step"],
            job_name=name,
            pod_name=name,
            component="step_worker",
            user_defined_k8s_config=context.run_k8s_config,
            labels={"dagster/op": op},
        )
        manifest = _validated(job)
        assert manifest["kind"] == "Job" and manifest["apiVersion"] == "batch/v1"
        pods[op] = manifest["spec"]["template"]["spec"]

    gpu = pods["face_embeddings"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert gpu["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert gpu["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "nvidia.com/gpu" not in pods["video_frames"]["containers"][0]["resources"]["limits"]
    for op, pod in pods.items():  # every step gets the lake's secret (INFLUENCER_LAKE, keys)
        secrets = [e["secretRef"]["name"] for e in pod["containers"][0].get("envFrom", [])]
        assert "influencer-lake" in secrets, op


def test_the_run_worker_job_is_valid_kubernetes(pg_env: None) -> None:
    config = _launcher_config()
    context = K8sContainerContext(
        env_secrets=config.get("env_secrets"),
        service_account_name=config.get("service_account_name"),
        namespace=config.get("job_namespace"),
    )
    launcher = SimpleNamespace(**config, job_image=IMAGE)
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(IMAGE, launcher),
        args=["dagster", "api", "execute_run"],
        job_name="dagster-run-0123456789abcdef",
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
    )
    manifest = _validated(job)
    assert manifest["spec"]["template"]["spec"]["serviceAccountName"] == "dagster"


def test_the_validator_rejects_a_broken_manifest() -> None:
    """The check has teeth: an unknown field and a wrong type are both refused."""
    broken = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "x"},
        "spec": {"template": {"spec": {"containers": [{"name": "x", "imagee": "y"}]}}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken["spec"]["template"]["spec"]["containers"] = [{"name": "x", "resources": "big"}]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
