"""Start and stop a real ``dagster dev`` on a free loopback port and talk to its GraphQL API.

``dagster dev`` starts children (the webserver, the daemon, a code server per location), so the
server runs in its own process group and the whole group is killed when it stops. Its output goes
to a log file, whose tail is quoted in every error.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
REPOSITORY_NAME = "__repository__"  # the repository Dagster makes from a module's `Definitions`
TERMINAL_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}


class DagsterServerError(RuntimeError):
    """The server did not start, a GraphQL call failed, or a run did not succeed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class DagsterServer:
    """A running ``dagster dev``: its URL, process and log, and a GraphQL client."""

    url: str
    process: subprocess.Popen
    log_path: Path
    location: str
    timings: dict[str, float] = field(default_factory=dict)

    def log_tail(self, chars: int = 4000) -> str:
        """The last ``chars`` characters the server wrote."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no log>"

    def get(self, path: str, timeout: float = 10.0) -> bytes:
        """GET ``path`` from the server; raises ``DagsterServerError`` (``http``) on failure."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise DagsterServerError("http", f"GET {path} failed: {exc}") from exc

    def graphql(
        self, query: str, variables: Mapping[str, Any] | None = None, timeout: float = 60.0
    ) -> dict[str, Any]:
        """POST one GraphQL operation; return its ``data`` (errors raise ``DagsterServerError``)."""
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        request = urllib.request.Request(
            self.url + "/graphql",
            data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:2000]
            raise DagsterServerError("graphql_http", f"HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DagsterServerError("graphql_http", f"POST /graphql failed: {exc}") from exc
        if payload.get("errors"):
            raise DagsterServerError("graphql", json.dumps(payload["errors"])[:2000])
        return payload["data"]

    def location_status(self) -> str | None:
        """The load status of this server's code location (``LOADED`` when it is usable)."""
        data = self.graphql(
            """{ locationStatusesOrError { __typename
                 ... on WorkspaceLocationStatusEntries { entries { name loadStatus } } } }"""
        )
        entries = data["locationStatusesOrError"].get("entries") or []
        return next((e["loadStatus"] for e in entries if e["name"] == self.location), None)

    def location_error(self) -> str | None:
        """The code location's load error, if it failed to load."""
        data = self.graphql(
            """{ workspaceOrError { ... on Workspace { locationEntries { name
                 locationOrLoadError { __typename ... on PythonError { message stack } } } } } }"""
        )
        for entry in data["workspaceOrError"].get("locationEntries") or []:
            error = entry.get("locationOrLoadError") or {}
            if entry["name"] == self.location and error.get("__typename") == "PythonError":
                return error["message"] + "".join(error.get("stack") or [])
        return None

    def skip_community_dialog(self) -> bool:
        """Record the "Join the Dagster community" dialog as seen, as its Skip button does.

        On a fresh instance it opens over every page on localhost, at any moment of the first
        load, and covers every click; once recorded on the server it never opens."""
        return self.graphql("mutation { setNuxSeen }")["setNuxSeen"] is True

    def stop_sensors(self) -> dict[str, str]:
        """Switch every sensor of this code location off, as its toggle in the UI does; return
        each sensor's status afterwards."""
        data = self.graphql(
            """{ repositoriesOrError { ... on RepositoryConnection { nodes {
                 location { name } sensors { id name } } } } }"""
        )
        nodes = data["repositoriesOrError"].get("nodes") or []
        sensors = [s for n in nodes if n["location"]["name"] == self.location for s in n["sensors"]]
        statuses = {}
        for sensor in sensors:
            result = self.graphql(
                """mutation($id: String!) { stopSensor(id: $id) { __typename
                     ... on StopSensorMutationResult { instigationState { status } }
                     ... on PythonError { message } } }""",
                {"id": sensor["id"]},
            )["stopSensor"]
            state = result.get("instigationState") or {}
            statuses[sensor["name"]] = state.get("status") or str(result)
        return statuses

    def wait_ready(self, timeout: float) -> None:
        """Wait until the webserver answers and the code location is loaded."""
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DagsterServerError(
                    "server_exited",
                    f"dagster dev exited with {self.process.returncode}; log tail:\n"
                    + self.log_tail(),
                )
            try:
                self.get("/server_info", timeout=2.0)
                self.timings.setdefault("webserver_up_s", time.monotonic() - started)
                status = self.location_status()
            except DagsterServerError:
                status = None
            if status == "LOADED":
                error = self.location_error()
                if error:
                    raise DagsterServerError("location_error", f"code location failed:\n{error}")
                self.timings["location_loaded_s"] = time.monotonic() - started
                return
            time.sleep(0.5)
        raise DagsterServerError(
            "start_timeout",
            f"dagster dev was not ready within {timeout:.0f} s; log tail:\n" + self.log_tail(),
        )

    def run_status(self, run_id: str) -> str:
        """The status of run ``run_id`` (``QUEUED``, ``STARTED``, ``SUCCESS``, ...)."""
        data = self.graphql(
            """query RunStatus($runId: ID!) { runOrError(runId: $runId) { __typename
                 ... on Run { status } ... on PythonError { message } } }""",
            {"runId": run_id},
        )
        result = data["runOrError"]
        if result["__typename"] != "Run":
            raise DagsterServerError("run_lookup", f"run {run_id}: {result}")
        return result["status"]

    def run_failure(self, run_id: str) -> str:
        """The error messages of run ``run_id``'s failed steps and run failure events."""
        data = self.graphql(
            """query RunLogs($runId: ID!) { logsForRun(runId: $runId, limit: 2000) { __typename
                 ... on EventConnection { events { __typename
                   ... on MessageEvent { message stepKey level }
                   ... on ExecutionStepFailureEvent { error { message } }
                   ... on RunFailureEvent { pipelineName } } } } }""",
            {"runId": run_id},
        )
        events = data["logsForRun"].get("events") or []
        lines = [
            f"{e.get('stepKey') or ''}: {e.get('message', '')} "
            f"{(e.get('error') or {}).get('message', '')}".strip()
            for e in events
            if e.get("level") in {"ERROR", "CRITICAL"} or e["__typename"].endswith("FailureEvent")
        ]
        return "\n".join(lines[-20:]) or "<no failure events>"

    def wait_for_run(self, run_id: str, timeout: float) -> str:
        """Poll run ``run_id`` until it ends; raise ``DagsterServerError`` unless it succeeded."""
        deadline = time.monotonic() + timeout
        status = "UNKNOWN"
        while time.monotonic() < deadline:
            status = self.run_status(run_id)
            if status in TERMINAL_RUN_STATUSES:
                break
            time.sleep(1.0)
        else:
            raise DagsterServerError(
                "run_timeout", f"run {run_id} still {status} after {timeout:.0f} s"
            )
        if status != "SUCCESS":
            raise DagsterServerError(
                "run_failed",
                f"run {run_id} ended {status}:\n{self.run_failure(run_id)}\n"
                f"server log tail:\n{self.log_tail(2000)}",
            )
        return status


LAUNCH_PIPELINE_EXECUTION = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { id runId pipelineName } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
  }
}"""

# The fields of the UI's LaunchAssetLoaderQuery (LaunchAssetExecutionButton.tsx) that decide
# which job, partitions dialog and checks a "Materialize" click uses.
LAUNCH_ASSET_LOADER_QUERY = """
query LaunchAssetLoaderQuery($assetKeys: [AssetKeyInput!]!) {
  assetNodes(assetKeys: $assetKeys) {
    assetKey { path }
    jobNames
    isObservable
    isExecutable
    partitionDefinition { type name dimensionTypes { name dynamicPartitionsDefinitionName } }
    backfillPolicy { policyType maxPartitionsPerRun }
    assetChecksOrError { __typename ... on AssetChecks { checks { name jobNames } } }
    dependencyKeys { path }
    repository { name location { name } }
    requiredResources { resourceKey }
    configField { isRequired }
  }
  assetNodeAdditionalRequiredKeys(assetKeys: $assetKeys) { path }
  assetNodeDefinitionCollisions(assetKeys: $assetKeys) { assetKey { path } }
}"""

LAUNCH_ASSET_LOADER_RESOURCE_QUERY = """
query LaunchAssetLoaderResourceQuery(
  $pipelineName: String!, $repositoryLocationName: String!, $repositoryName: String!
) {
  resourcesOrError(pipelineSelector: {
    pipelineName: $pipelineName, repositoryName: $repositoryName,
    repositoryLocationName: $repositoryLocationName
  }) {
    __typename
    ... on ResourceConnection { resources { name configField { isRequired } } }
    ... on PythonError { message }
    ... on PipelineNotFoundError { message }
  }
}"""

LAUNCH_ASSET_CHECK_UPSTREAM_QUERY = """
query LaunchAssetCheckUpstreamQuery($assetKeys: [AssetKeyInput!]!) {
  assetNodes(assetKeys: $assetKeys, loadMaterializations: true) {
    assetKey { path }
    isMaterializable
    assetMaterializations(limit: 1) { runId }
  }
}"""

CONFIG_PARTITION_FOR_ASSET_JOB_QUERY = """
query ConfigPartitionForAssetJobQuery(
  $repositoryName: String!, $repositoryLocationName: String!, $jobName: String!,
  $partitionName: String!, $assetKeys: [AssetKeyInput!]!
) {
  pipelineOrError(params: {
    pipelineName: $jobName, repositoryName: $repositoryName,
    repositoryLocationName: $repositoryLocationName
  }) {
    __typename
    ... on Pipeline {
      partition(partitionName: $partitionName, selectedAssetKeys: $assetKeys) {
        name
        runConfigOrError {
          __typename
          ... on PartitionRunConfig { yaml }
          ... on PythonError { message }
        }
        tagsOrError {
          __typename
          ... on PartitionTags { results { key value } }
          ... on PythonError { message }
        }
      }
    }
  }
}"""

UI_EXECUTION_TAGS = [{"key": "dagster/from_ui", "value": "true"}]  # uiExecutionTags.tsx


@dataclass
class LaunchedRun:
    """A run launched through the UI's mutation, with exactly what was sent."""

    run_id: str
    job_name: str
    execution_params: dict[str, Any]


def _with_ui_tags(tags: list[dict[str, str]]) -> list[dict[str, str]]:
    """``tagsWithUIExecutionTags``: the UI marks every run it launches as launched from the UI."""
    ui_keys = {t["key"] for t in UI_EXECUTION_TAGS}
    return [t for t in tags if t["key"] not in ui_keys] + UI_EXECUTION_TAGS


def launch(server: DagsterServer, execution_params: dict[str, Any]) -> LaunchedRun:
    """Send the UI's ``LaunchPipelineExecution`` mutation (``useLaunchWithTelemetry``)."""
    params = dict(execution_params)
    metadata = dict(params.get("executionMetadata") or {})
    metadata["tags"] = _with_ui_tags(list(metadata.get("tags") or []))
    params["executionMetadata"] = metadata
    result = server.graphql(LAUNCH_PIPELINE_EXECUTION, {"executionParams": params})
    outcome = result["launchPipelineExecution"]
    if outcome["__typename"] != "LaunchRunSuccess":
        raise DagsterServerError("launch_failed", f"launch was refused: {json.dumps(outcome)}")
    run = outcome["run"]
    return LaunchedRun(run["runId"], run["pipelineName"], params)


def launch_job_from_launchpad(
    server: DagsterServer, job_name: str, run_config_yaml: str, repository: str = REPOSITORY_NAME
) -> LaunchedRun:
    """Launch ``job_name`` the way the launchpad's "Launch run" does (``LaunchpadSession``)."""
    return launch(
        server,
        {
            "runConfigData": run_config_yaml,
            "selector": {
                "repositoryLocationName": server.location,
                "repositoryName": repository,
                "pipelineName": job_name,
                "assetSelection": [],
                "assetCheckSelection": [],
            },
            "mode": "default",
            "executionMetadata": {"tags": []},
        },
    )


def _asset_key_input(path: list[str]) -> dict[str, list[str]]:
    return {"path": list(path)}


def _load_assets(server: DagsterServer, asset_keys: list[list[str]]) -> list[dict[str, Any]]:
    """``onLoad`` + the collision/required-keys handling of ``useMaterializationAction``."""
    keys = [_asset_key_input(k) for k in asset_keys]
    data = server.graphql(LAUNCH_ASSET_LOADER_QUERY, {"assetKeys": keys})
    if data["assetNodeDefinitionCollisions"]:
        raise DagsterServerError(
            "asset_collision", f"assets defined twice: {data['assetNodeDefinitionCollisions']}"
        )
    if data["assetNodeAdditionalRequiredKeys"]:  # the UI asks to add them, and reloads
        keys += data["assetNodeAdditionalRequiredKeys"]
        data = server.graphql(LAUNCH_ASSET_LOADER_QUERY, {"assetKeys": keys})
    found = {tuple(a["assetKey"]["path"]) for a in data["assetNodes"]}
    missing = [k for k in keys if tuple(k["path"]) not in found]
    if missing:
        raise DagsterServerError("unknown_assets", f"assets not in the workspace: {missing}")
    return data["assetNodes"]


def common_job(assets: list[dict[str, Any]], preferred: str | None = None) -> str | None:
    """``getCommonJob``: the first job of the first asset that every selected asset is in."""
    if not assets:
        return None
    common = [j for j in assets[0]["jobNames"] if all(j in a["jobNames"] for a in assets)]
    return next((j for j in common if j == preferred), common[0] if common else None)


def asset_check_inputs(assets: list[dict[str, Any]], job_name: str) -> list[dict[str, Any]]:
    """``getAssetCheckHandleInputs``: the checks of the selected assets that run in the job."""
    handles = []
    for asset in assets:
        checks = asset["assetChecksOrError"]
        if checks["__typename"] != "AssetChecks":
            continue
        for check in checks["checks"]:
            if not check["jobNames"] or job_name in check["jobNames"]:
                handles.append({"name": check["name"], "assetKey": asset["assetKey"]})
    return handles


def _resources_need_config(
    server: DagsterServer, job_name: str, repository: str, assets: list[dict[str, Any]]
) -> bool:
    """``checkIfResourcesRequireConfig``: would the UI open the launchpad for resource config?"""
    wanted = {r["resourceKey"] for a in assets for r in a["requiredResources"]}
    if not wanted:
        return False
    data = server.graphql(
        LAUNCH_ASSET_LOADER_RESOURCE_QUERY,
        {
            "pipelineName": job_name,
            "repositoryName": repository,
            "repositoryLocationName": server.location,
        },
    )["resourcesOrError"]
    if data["__typename"] != "ResourceConnection":
        raise DagsterServerError("resources", f"resources of {job_name}: {data}")
    return any(
        r["name"] in wanted and (r["configField"] or {}).get("isRequired")
        for r in data["resources"]
    )


def _upstream_never_materialized(
    server: DagsterServer, assets: list[dict[str, Any]]
) -> list[list[str]]:
    """``upstreamAssetsWithNoMaterializations``: the UI warns before launching over these."""
    selected = {tuple(a["assetKey"]["path"]) for a in assets}
    upstream = sorted({tuple(d["path"]) for a in assets for d in a["dependencyKeys"]} - selected)
    if not upstream:
        return []
    data = server.graphql(
        LAUNCH_ASSET_CHECK_UPSTREAM_QUERY, {"assetKeys": [{"path": list(k)} for k in upstream]}
    )
    return [
        a["assetKey"]["path"]
        for a in data["assetNodes"]
        if a["isMaterializable"] and not a["assetMaterializations"]
    ]


def materialize_partition_like_ui(
    server: DagsterServer, asset_keys: list[list[str]], partition_key: str
) -> LaunchedRun:
    """Select ``asset_keys`` in the asset graph, click "Materialize", pick one partition, launch.

    Mirrors Dagster 1.13's UI: ``useMaterializationAction`` and ``stateForLaunchingAssets``
    (LaunchAssetExecutionButton.tsx) choose the job and open the partitions dialog; with one
    partition selected, ``onLaunchAsSingleRun`` (LaunchAssetChoosePartitionsDialog.tsx) fetches the
    partition's tags and config (``ConfigPartitionForAssetJobQuery``) and sends
    ``executionParamsForAssetJob`` through the ``LaunchPipelineExecution`` mutation.
    """
    assets = _load_assets(server, asset_keys)
    if any(a["isObservable"] or not a["isExecutable"] for a in assets):
        raise DagsterServerError("not_materializable", "the selection has non-executable assets")
    repository = assets[0]["repository"]["name"]
    if any(
        a["repository"]["name"] != repository
        or a["repository"]["location"]["name"] != server.location
        for a in assets
    ):
        raise DagsterServerError("mixed_repositories", "the selection spans code locations")
    job_name = common_job(assets)
    partitioned = [a["partitionDefinition"] for a in assets if a["partitionDefinition"]]
    if not job_name or not partitioned or any(p != partitioned[0] for p in partitioned):
        raise DagsterServerError(
            "no_single_run_path",
            f"the UI would not launch {asset_keys} as one job run of one partition "
            f"(common job {job_name!r}, partition definitions {partitioned})",
        )
    if any((a["configField"] or {}).get("isRequired") for a in assets) or _resources_need_config(
        server, job_name, repository, assets
    ):
        raise DagsterServerError("needs_launchpad", "the UI would open the launchpad for config")
    never = _upstream_never_materialized(server, assets)
    if never:
        raise DagsterServerError(
            "upstream_never_materialized", f"upstream assets never materialized: {never}"
        )
    selection = [_asset_key_input(a["assetKey"]["path"]) for a in assets]
    data = server.graphql(
        CONFIG_PARTITION_FOR_ASSET_JOB_QUERY,
        {
            "repositoryName": repository,
            "repositoryLocationName": server.location,
            "jobName": job_name,
            "partitionName": partition_key,
            "assetKeys": selection,
        },
    )["pipelineOrError"]
    partition = data.get("partition") if data["__typename"] == "Pipeline" else None
    if not partition:
        raise DagsterServerError("no_partition", f"{job_name} has no partition {partition_key}")
    config, tags = partition["runConfigOrError"], partition["tagsOrError"]
    if config["__typename"] == "PythonError" or tags["__typename"] == "PythonError":
        raise DagsterServerError("partition_config", f"partition config/tags failed: {partition}")
    return launch(
        server,
        {
            "mode": "default",
            "executionMetadata": {"tags": [dict(t) for t in tags["results"]]},
            "runConfigData": config["yaml"] or "",
            "selector": {
                "repositoryLocationName": server.location,
                "repositoryName": repository,
                "pipelineName": job_name,
                "assetSelection": selection,
                "assetCheckSelection": asset_check_inputs(assets, job_name),
            },
        },
    )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop ``dagster dev`` the way Ctrl-C does, then end whatever is left of its group."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # dagster dev shuts its children down on SIGINT
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    # left behind: the code server (it stops only when its heartbeat times out, 45 s later) and
    # a run process still exiting; the group id is the server's pid
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 3.0
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextmanager
def dagster_dev(
    project_dir: Path,
    env: Mapping[str, str],
    log_path: Path,
    *,
    workspace: str = "workspace.yaml",
    location: str = "influencer_pipeline",
    host: str = LOOPBACK,
    start_timeout: float = 120.0,
) -> Iterator[DagsterServer]:
    """Run ``python -m dagster dev -w workspace`` on a free ``host`` port for the ``with`` body."""
    port = free_port(host)
    command = [sys.executable, "-m", "dagster", "dev", "-w", workspace, "-h", host]
    command += ["-p", str(port)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=project_dir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole at the end
        )
    server = DagsterServer(f"http://{host}:{port}", process, log_path, location)
    try:
        server.wait_ready(start_timeout)
        yield server
    finally:
        _stop(process)
