"""The UI path for real: `dagster dev` on a loopback port, its GraphQL API, a launch, a screenshot.

One module-scoped server runs against ``workspace.yaml`` with a temporary ``DAGSTER_HOME`` (the
instance yaml the CLI writes) and lake, on a two-video demo. The catalog is launched the way the
launchpad does; one ``videos`` partition of the per-video assets is launched the way the asset
graph's "Materialize" button does with one partition picked (see ``dagster_server``), with the
sensors switched off as a user does before launching by hand; then headless Chromium screenshots
the global asset lineage page to ``test-output/ui_asset_graph.png``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from influencer_pipeline.cli import build_parser
from influencer_pipeline.definitions import defs
from influencer_pipeline.defs.jobs import JOBS
from influencer_pipeline.defs.resources import EMBEDDER_ENV
from influencer_pipeline.paths import LAKE_ENV
from influencer_pipeline.run_pipeline import DEFAULT_INSTANCE_YAML
from influencer_pipeline_tests import browser
from influencer_pipeline_tests.conftest import PROJECT_DIR
from influencer_pipeline_tests.dagster_server import (
    DagsterServer,
    LaunchedRun,
    dagster_dev,
    launch_job_from_launchpad,
    materialize_partition_like_ui,
)
from influencer_tools.demo.config import DemoConfig
from influencer_tools.demo.generator import generate_demo

pytestmark = pytest.mark.slow

LOCATION = "influencer_pipeline"
PER_VIDEO_ASSETS = [
    "video_files",
    "video_frames",
    "face_embeddings",
    "video_faces",
    "outro_fingerprints",
]
# The lineage drawn in the README / DESIGN §2 (the graph may have more edges than these).
DESIGN_EDGES = {
    ("video_catalog", "video_files"),
    ("video_files", "video_frames"),
    ("video_frames", "face_embeddings"),
    ("video_frames", "outro_fingerprints"),
    ("face_embeddings", "video_faces"),
    ("video_catalog", "duplicate_groups"),
    ("video_faces", "identity_clusters"),
    ("duplicate_groups", "identity_clusters"),
    ("video_faces", "outro_groups"),
    ("outro_fingerprints", "outro_groups"),
    ("identity_clusters", "video_influencers"),
    ("outro_groups", "video_influencers"),
    ("duplicate_groups", "video_influencers"),
    ("video_influencers", "ranked_influencers"),
}
TINY_DEMO = DemoConfig(
    seed=3,
    n_face_influencers=1,
    n_faceless_creators=1,
    videos_per_influencer=(1, 1),
    seconds=(2.0, 2.0),
    width=180,
    height=320,
    n_reuploads=0,
    exact_duplicate_row=False,
    exact_copy=False,
    lookalike_outros=False,
    workers=1,
)
SCREENSHOT = PROJECT_DIR / "test-output" / "ui_asset_graph.png"
# Virtual time for the JS app to load, query the server and lay out the graph. Chromium holds
# virtual time while requests are pending and skips idle time, so a page takes about 4 s of wall
# time here whether the budget is 1 s or 20 s (all asset nodes render with either); 20 s is margin.
PAGE = {"width": 1920, "height": 1200, "budget_ms": 20000}

chromium = browser.chromium  # the fixture: skips when no chromium binary is installed


@dataclass
class UiSession:
    """The running server, its folders and what the module's launches did."""

    server: DagsterServer
    home: Path
    lake: Path
    sheet: Path
    timings: dict[str, float] = field(default_factory=dict)
    catalog_run: LaunchedRun | None = None
    partition_run: LaunchedRun | None = None
    partition_key: str = ""
    other_keys: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiSession]:
    """A tiny demo, a temporary instance and lake, and ``dagster dev`` serving them."""
    root = tmp_path_factory.mktemp("ui")
    started = time.monotonic()
    demo = generate_demo(root / "demo", TINY_DEMO)
    home, lake = root / "dagster_home", root / "lake"
    home.mkdir()
    (home / "dagster.yaml").write_text(DEFAULT_INSTANCE_YAML)
    env = {**os.environ, "DAGSTER_HOME": str(home), LAKE_ENV: str(lake), EMBEDDER_ENV: "dlib"}
    with dagster_dev(PROJECT_DIR, env, root / "dagster_dev.log", location=LOCATION) as server:
        session = UiSession(server, home, lake, demo.sheet.resolve())
        # This module launches runs by hand; the sensors (on by default, tested with the daemon
        # in test_ui_flow) would plan the catalog's other video in a run of their own.
        stopped = server.stop_sensors()
        assert stopped and set(stopped.values()) == {"STOPPED"}, stopped
        session.timings["server_ready_s"] = time.monotonic() - started
        yield session
    session.timings["total_s"] = time.monotonic() - started
    print(f"\nUI test timings: {session.timings} (server: {server.timings})")


@pytest.fixture(scope="module")
def materialized(ui: UiSession) -> UiSession:
    """Launch the catalog (launchpad), then one video partition (asset graph), both to SUCCESS."""
    started = time.monotonic()
    # The launchpad sends its editor's YAML text; JSON is YAML and quotes any path safely.
    config = json.dumps({"ops": {"video_catalog": {"config": {"sheets": [str(ui.sheet)]}}}})
    ui.catalog_run = launch_job_from_launchpad(ui.server, "catalog_job", config)
    ui.server.wait_for_run(ui.catalog_run.run_id, timeout=240)
    ui.timings["catalog_run_s"] = time.monotonic() - started

    catalog = pd.read_parquet(ui.lake / "video_catalog.parquet")
    face_video = _face_video_file(ui.sheet.parent)
    chosen = catalog[catalog["video_url"].str.endswith(face_video)]
    assert len(chosen) == 1, (face_video, list(catalog["video_url"]))
    ui.partition_key = str(chosen["video_id"].iloc[0])
    ui.other_keys = sorted(set(catalog["video_id"]) - {ui.partition_key})

    started = time.monotonic()
    keys = [[name] for name in PER_VIDEO_ASSETS]
    ui.partition_run = materialize_partition_like_ui(ui.server, keys, ui.partition_key)
    ui.server.wait_for_run(ui.partition_run.run_id, timeout=420)
    ui.timings["partition_run_s"] = time.monotonic() - started
    return ui


def _face_video_file(demo_dir: Path) -> str:
    """The file name of the demo's face-influencer video (from the demo's truth file)."""
    truth = pd.read_csv(demo_dir / "truth.csv")
    return str(truth.loc[truth["kind"] == "face", "file"].iloc[0])


def test_the_cli_ui_binds_to_loopback_by_default() -> None:
    args = build_parser().parse_args(["ui"])
    assert args.host == "127.0.0.1"
    assert args.port == 3000


def _listening_addresses(port: int) -> list[str]:
    """The local addresses (hex, as in /proc/net/tcp*) with a socket listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.rpartition(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.append(address)
    return found


def test_the_webserver_listens_on_loopback_only(ui: UiSession) -> None:
    assert b"dagster_webserver_version" in ui.server.get("/server_info")
    port = urllib.parse.urlsplit(ui.server.url).port
    assert port is not None
    if not Path("/proc/net/tcp").is_file():
        pytest.skip("no /proc/net/tcp on this system to read listening sockets from")
    # 127.0.0.1 in /proc/net/tcp's little-endian hex; never 0.0.0.0 or :: (every interface).
    assert _listening_addresses(port) == ["0100007F"]


ASSET_NODES_QUERY = """{
  assetNodes {
    assetKey { path }
    dependencyKeys { path }
    groupName
    isPartitioned
    partitionDefinition { type name }
    jobNames
    assetChecksOrError { __typename ... on AssetChecks { checks { name } } }
  }
  repositoriesOrError {
    ... on RepositoryConnection { nodes { name location { name } jobs { name } } }
  }
}"""


def test_graphql_has_every_asset_with_its_lineage_groups_and_partitions(ui: UiSession) -> None:
    data = ui.server.graphql(ASSET_NODES_QUERY)
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    graph = defs.resolve_asset_graph()
    expected = {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}
    assert set(nodes) == set(expected)
    for name, node in expected.items():
        served = nodes[name]
        parents = {"/".join(d["path"]) for d in served["dependencyKeys"]}
        assert parents == {p.to_user_string() for p in node.parent_keys}, name
        assert served["groupName"] == node.group_name, name
        assert served["isPartitioned"] == (name in PER_VIDEO_ASSETS), name
        if name in PER_VIDEO_ASSETS:
            assert served["partitionDefinition"] == {"type": "DYNAMIC", "name": "videos"}, name
        checks = served["assetChecksOrError"].get("checks") or []
        wanted = {c.name for c in graph.asset_check_keys if c.asset_key == node.key}
        assert {c["name"] for c in checks} == wanted, name
    edges = {("/".join(d["path"]), name) for name, n in nodes.items() for d in n["dependencyKeys"]}
    assert edges >= DESIGN_EDGES, DESIGN_EDGES - edges

    (repo,) = data["repositoriesOrError"]["nodes"]
    assert repo["location"]["name"] == LOCATION
    assert {job.name for job in JOBS} <= {j["name"] for j in repo["jobs"]}


def test_the_catalog_launch_registers_one_partition_per_video(materialized: UiSession) -> None:
    catalog = pd.read_parquet(materialized.lake / "video_catalog.parquet")
    assert len(catalog) == 2
    data = materialized.server.graphql(
        """query($keys: [AssetKeyInput!]!) { assetNodes(assetKeys: $keys) {
             partitionKeysByDimension { name partitionKeys } } }""",
        {"keys": [{"path": ["video_files"]}]},
    )
    (dimension,) = data["assetNodes"][0]["partitionKeysByDimension"]
    assert sorted(dimension["partitionKeys"]) == sorted(catalog["video_id"])


def test_one_partition_launched_like_the_ui_materializes_every_selected_asset(
    materialized: UiSession,
) -> None:
    run, key = materialized.partition_run, materialized.partition_key
    assert run is not None
    params = run.execution_params
    assert params["selector"]["pipelineName"] == run.job_name == "__ASSET_JOB"
    assert sorted(k["path"][0] for k in params["selector"]["assetSelection"]) == sorted(
        PER_VIDEO_ASSETS
    )
    assert {"key": "dagster/partition", "value": key} in params["executionMetadata"]["tags"]

    info = materialized.server.graphql(
        """query($runId: ID!) { runOrError(runId: $runId) { ... on Run {
             status tags { key value } assetSelection { path } } } }""",
        {"runId": run.run_id},
    )["runOrError"]
    assert info["status"] == "SUCCESS"
    tags = {t["key"]: t["value"] for t in info["tags"]}
    assert tags["dagster/partition"] == key
    assert tags["dagster/from_ui"] == "true"

    for asset in PER_VIDEO_ASSETS:
        path = materialized.lake / asset / f"{key}.parquet"
        assert path.is_file(), path
        for other in materialized.other_keys:
            assert not (materialized.lake / asset / f"{other}.parquet").exists(), (asset, other)
    files = pd.read_parquet(materialized.lake / "video_files" / f"{key}.parquet")
    assert list(files["video_id"]) == [key]
    assert list(files["status"]) == ["ok"]

    data = materialized.server.graphql(
        """query($keys: [AssetKeyInput!]!, $partition: String!) {
             assetNodes(assetKeys: $keys, loadMaterializations: true) {
               assetKey { path }
               assetMaterializations(partitions: [$partition]) { partition runId }
               assetPartitionStatuses {
                 ... on DefaultPartitionStatuses { materializedPartitions failedPartitions }
               }
             } }""",
        {"keys": [{"path": [a]} for a in PER_VIDEO_ASSETS], "partition": key},
    )
    assert len(data["assetNodes"]) == len(PER_VIDEO_ASSETS)
    for node in data["assetNodes"]:
        name = node["assetKey"]["path"][0]
        events = node["assetMaterializations"]
        assert [(e["partition"], e["runId"]) for e in events] == [(key, run.run_id)], name
        statuses = node["assetPartitionStatuses"]
        assert statuses["materializedPartitions"] == [key], name
        assert statuses["failedPartitions"] == [], name


def _lineage_url(ui: UiSession) -> str:
    """The global asset lineage page with every group expanded (the ``expanded`` query string)."""
    groups = sorted({n.group_name for n in defs.resolve_asset_graph().asset_nodes})
    ids = [f"global@global:{g}" for g in groups]  # the default group id of this UI version
    ids += [f"__repository__@{LOCATION}:{g}" for g in groups]  # with groups per code location
    return f"{ui.server.url}/asset-groups?" + urllib.parse.urlencode({"expanded": ",".join(ids)})


def test_screenshot_of_the_asset_graph(
    materialized: UiSession, chromium: browser.Chromium, tmp_path: Path
) -> None:
    assert materialized.server.skip_community_dialog()
    url = _lineage_url(materialized)
    started = time.monotonic()
    net_log = tmp_path / "net_log.json"
    chromium.screenshot(url, SCREENSHOT, **PAGE, net_log=net_log)
    materialized.timings["screenshot_s"] = time.monotonic() - started
    assert SCREENSHOT.is_file()
    with Image.open(SCREENSHOT) as image:
        assert image.size == (PAGE["width"], PAGE["height"])
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert pixels.std() > 10.0  # not a blank page
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100

    dom = chromium.dump_dom(url, **PAGE)
    assert "Global asset lineage" in dom
    assert "Join the Dagster community" not in dom
    assert "video_catalog" in dom
    # The global graph no longer fits one screen; each group's own lineage page does.
    groups: dict[str, list[str]] = {}
    for node in defs.resolve_asset_graph().asset_nodes:
        groups.setdefault(node.group_name, []).append(node.key.to_user_string())
    missing = []
    for group, names in sorted(groups.items()):
        page = f"{materialized.server.url}/locations/{LOCATION}/asset-groups/{group}"
        group_dom = chromium.dump_dom(page, **PAGE)
        missing += [name for name in names if f">{name}<" not in group_dom]
    assert not missing, f"asset nodes not rendered: {missing}"
    assert not set(PER_VIDEO_ASSETS) - {n for names in groups.values() for n in names}

    server = urllib.parse.urlsplit(materialized.server.url).netloc
    external = [
        u
        for u in browser.page_requests(net_log)
        if urllib.parse.urlsplit(u).scheme in {"http", "https", "ws", "wss"}
        and urllib.parse.urlsplit(u).netloc != server  # its GraphQL websocket is on the server
    ]
    assert not external, f"the UI page requested outside hosts: {external}"
