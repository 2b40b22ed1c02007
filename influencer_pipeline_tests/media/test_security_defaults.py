"""Safe defaults (issue 7), each asserted on the real defaults, not on a test-made policy:

downloads only http(s); loopback, private and link-local addresses refused unless configured
(checked on the resolved addresses, and - see test_hostile_corpus - on every redirect); local
files only below configured folders; finite size and time caps; no pickle in the lake or in the
package's code; model files loaded with ``weights_only=True``; the UI bound to 127.0.0.1.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from influencer_pipeline import cli
from influencer_pipeline.defs.resources import FaceModels, VideoFetcher
from influencer_pipeline.faces import embedders
from influencer_pipeline.faces.embedders import FacenetEmbedder
from influencer_pipeline.faces.weights import EmbedderUnavailable
from influencer_pipeline.media import address_guard
from influencer_pipeline.media.errors import MediaError
from influencer_pipeline.media.fetch import FetchPolicy, fetch_to_file
from influencer_pipeline_tests.hostile import media
from influencer_pipeline_tests.hostile.pipeline import CorpusRun, shared_corpus_run
from influencer_pipeline_tests.hostile.server import HostileServer, serve

PACKAGE = Path(__file__).resolve().parents[2] / "influencer_pipeline"
PICKLERS = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "joblib", "shelve", "marshal"}
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
RAW_FACE_BYTES = 32 * 32  # the aligned face patch kept per face for the live/picture test
PICKLE_STARTS = {b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"}  # protocol 2-5 headers


def _sources() -> list[tuple[Path, ast.Module]]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30
    return [(path, ast.parse(path.read_text(), str(path))) for path in files]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileServer]:
    video = media.one_frame(tmp_path_factory.mktemp("srv")).read_bytes()
    with serve(video) as httpd:
        yield httpd


@pytest.fixture(autouse=True)
def _fresh_dns_cache() -> Iterator[None]:
    address_guard.clear_dns_cache()
    yield
    address_guard.clear_dns_cache()


def _error(url: str, dest: Path, policy: FetchPolicy) -> MediaError:
    with pytest.raises(MediaError) as info:
        fetch_to_file(url, dest, policy)
    assert not dest.exists() or not any(dest.iterdir())
    return info.value


# --- the fetch policy --------------------------------------------------------------------------


def test_default_fetch_policy_is_closed_and_bounded() -> None:
    policy = FetchPolicy()
    assert policy.allow_private_networks is False
    assert policy.local_roots == ()
    assert 0 < policy.max_bytes <= 2 * 1024**3
    assert 0 < policy.connect_timeout_s <= 30 and 0 < policy.read_timeout_s <= 60
    assert 0 < policy.total_timeout_s <= 600
    assert 0 <= policy.max_redirects <= 10 and 0 <= policy.retries <= 5
    assert policy.max_backoff_s <= policy.total_timeout_s


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/v.mp4",
        "gopher://127.0.0.1:6379/_INFO",
        "dict://127.0.0.1:11211/stats",
        "ldap://127.0.0.1/dc=x",
        "smb://fileserver/share/v.mp4",
        "data:video/mp4;base64,AAAA",
        "javascript:alert(1)",
        "jar:http://example.com/x.jar!/v.mp4",
        "file://fileserver/share/v.mp4",
        "/etc/passwd",
    ],
)
def test_default_policy_downloads_only_http_and_https(url: str, tmp_path: Path) -> None:
    assert _error(url, tmp_path / "dest", FetchPolicy()).code == "unsupported_scheme"


def test_default_policy_reads_no_local_file(tmp_path: Path) -> None:
    clip = media.one_frame(tmp_path)
    for url in (clip.as_uri(), "file:///etc/passwd", f"file://localhost{clip}"):
        assert _error(url, tmp_path / "dest", FetchPolicy()).code == "outside_allowed_roots"


def test_local_files_only_below_the_configured_folders(tmp_path: Path) -> None:
    allowed, beside = tmp_path / "allowed", tmp_path / "allowed_not"
    allowed.mkdir()
    beside.mkdir()
    inside, outside = media.one_frame(allowed), media.one_frame(beside)
    policy = FetchPolicy(local_roots=(allowed,))
    assert fetch_to_file(inside.as_uri(), tmp_path / "dest", policy).bytes == inside.stat().st_size
    assert _error(outside.as_uri(), tmp_path / "d2", policy).code == "outside_allowed_roots"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "0.0.0.0",
        "169.254.169.254",
        "[fe80::1]",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "100.64.0.1",
        "[fd00::1]",
    ],
)
def test_default_policy_refuses_non_public_addresses_before_connecting(
    host: str, server: HostileServer, tmp_path: Path
) -> None:
    before = sum(server.hits.values())
    url = f"http://{host}:{server.server_address[1]}/video"
    error = _error(url, tmp_path / "dest", FetchPolicy())
    assert error.code == "private_address"
    assert error.attempts == 1 and not error.retryable
    assert "allow_private_networks" in error.message  # says how to allow it on purpose
    assert sum(server.hits.values()) == before  # nothing was sent


def test_the_address_check_judges_resolved_addresses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A public-looking name that resolves to a private address is refused by that address."""

    def resolves_privately(host: str, port: int, *args: object, **kwargs: object) -> list:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", port))]

    monkeypatch.setattr(address_guard, "_getaddrinfo", resolves_privately)
    error = _error("https://videos.example.com/v.mp4", tmp_path / "dest", FetchPolicy())
    assert error.code == "private_address" and "10.20.30.40" in error.message


def test_private_networks_only_when_allowed_in_config(server: HostileServer, tmp_path: Path):
    allowed = FetchPolicy(allow_private_networks=True, retries=0)
    result = fetch_to_file(f"{server.base}/video", tmp_path, allowed)
    assert result.path.read_bytes() == server.video


# --- the Dagster resources ---------------------------------------------------------------------


def test_fetcher_resource_defaults_are_the_safe_policy(tmp_path: Path) -> None:
    policy = VideoFetcher().policy(default_roots=[tmp_path])
    assert policy.allow_private_networks is False
    assert policy.local_roots == (tmp_path,)  # only the input sheets' folders
    assert VideoFetcher().policy(default_roots=[]).local_roots == ()
    defaults = FetchPolicy()
    for name in ("connect_timeout_s", "read_timeout_s", "total_timeout_s", "max_bytes"):
        assert getattr(policy, name) == getattr(defaults, name), name
    assert {f.name for f in fields(FetchPolicy)} >= {"allow_private_networks", "local_roots"}


def test_face_models_never_download_by_default() -> None:
    assert FaceModels(embedder="dlib").allow_download is False


# --- model files -------------------------------------------------------------------------------


def test_every_torch_load_in_the_package_passes_weights_only_true() -> None:
    calls = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "torch":
                assert "load" not in {a.name for a in node.names}, path  # only as torch.load
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                options = {k.arg: k.value for k in node.keywords}
                assert isinstance(options.get("weights_only"), ast.Constant), (path, node.lineno)
                assert options["weights_only"].value is True, (path, node.lineno)
                calls.append(path.name)
            if isinstance(node, ast.keyword) and node.arg == "weights_only":
                assert isinstance(node.value, ast.Constant) and node.value.value is True, path
    assert "embedders.py" in calls  # the FaceNet weights loader is found and checked


class _Payload:
    """An object whose unpickling would create a marker file: a stand-in for malicious code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


def test_a_weights_file_with_code_in_it_is_refused_and_the_code_never_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker, weights = tmp_path / "payload_ran", tmp_path / "weights.pt"
    torch.save({"logits.weight": _Payload(marker)}, weights)
    seen: list[dict] = []
    real_load = torch.load

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(embedders.torch, "load", spy)
    with pytest.raises(EmbedderUnavailable) as info:
        FacenetEmbedder(weights_path=weights)
    assert info.value.code == "facenet_weights_invalid"
    assert [kwargs.get("weights_only") for kwargs in seen] == [True]
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):  # the file really is a pickle with a payload
        real_load(weights, weights_only=True)


# --- no pickle anywhere near the lake ----------------------------------------------------------


def test_package_source_never_pickles() -> None:
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                names = set()
            assert not names & PICKLERS, (path, node.lineno)
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("to_pickle", "read_pickle"), (path, node.lineno)
                assert ast.unparse(node) != "torch.save", (path, node.lineno)  # pickles too
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                assert isinstance(node.value, ast.Constant) and node.value.value is False, path


def _plain(kind: pa.DataType) -> bool:
    """Primitive Arrow types and lists of them: no extension (pickled Python) types."""
    if isinstance(kind, pa.ExtensionType):
        return False
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _plain(kind.value_type)
    return any(
        check(kind)
        for check in (
            pa.types.is_string,
            pa.types.is_large_string,
            pa.types.is_integer,
            pa.types.is_floating,
            pa.types.is_boolean,
            pa.types.is_binary,
            pa.types.is_timestamp,
            pa.types.is_null,
        )
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    return shared_corpus_run(tmp_path_factory)


@pytest.mark.slow
def test_the_lake_holds_no_pickled_data(corpus: CorpusRun) -> None:
    """Every file of a real run's lake is Parquet of plain types, or a video blob; every binary
    cell is an image (or the raw pixels of an aligned face), never a pickle stream."""
    parquet = sorted(corpus.lake.rglob("*.parquet"))
    others = [p for p in corpus.lake.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert len(parquet) > 20
    # besides Parquet: video blobs, the sheets given (sheets/), the analysts' report set
    # (leaderboard/) and the empty lock file of the lake's one writer
    allowed = {"video_blobs", "sheets", "leaderboard", ".writer.lock"}
    assert all(p.relative_to(corpus.lake).parts[0] in allowed for p in others), others
    assert not any(p.read_bytes()[:2] in PICKLE_STARTS for p in others)
    for path in parquet:
        schema = pq.read_schema(path)
        for item in schema:
            assert _plain(item.type), (path, item.name, item.type)
            assert not item.metadata, (path, item.name)  # no ARROW:extension:name
        assert set(schema.metadata or {}) <= {b"pandas"}, path
        if schema.metadata:
            pandas_types = {
                c["pandas_type"] for c in json.loads(schema.metadata[b"pandas"])["columns"]
            }
            assert not pandas_types & {"object", "mixed", "mixed-integer"}, (path, pandas_types)
        table = pq.read_table(path)
        for name in table.column_names:
            if pa.types.is_binary(table.schema.field(name).type):
                for value in table.column(name).to_pylist():
                    if name == "aligned_face":  # raw grey pixels of a 32 x 32 aligned face
                        assert value is None or len(value) in (0, RAW_FACE_BYTES), (path, name)
                        continue
                    assert value is None or value.startswith(IMAGE_MAGIC), (path, name)


# --- the UI ------------------------------------------------------------------------------------


def test_the_ui_binds_to_loopback_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    assert cli.build_parser().parse_args(["ui"]).host == "127.0.0.1"
    launched: list[list[str]] = []
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(cli.subprocess, "call", lambda command, **_: launched.append(command) or 0)
    assert cli.main(["ui"]) == 0
    (command,) = launched
    assert command[command.index("-h") + 1] == "127.0.0.1"
    assert "0.0.0.0" not in command


# --- the dependency audit ----------------------------------------------------------------------

AUDIT_SCRIPT = PACKAGE.parent / "scripts" / "audit_dependencies.sh"
STUB = """import json, os, sys
out = sys.argv[sys.argv.index("--output") + 1]
assert "--disable-pip" in sys.argv and "--no-deps" in sys.argv and "-r" in sys.argv
report = os.environ["STUB_REPORT"]
if report:
    open(out, "w").write(report)
sys.exit(int(os.environ["STUB_STATUS"]))
"""
VULN = {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-0001"], "fix_versions": ["9.9"]}


def _audit(
    tmp_path: Path, dependencies: list[dict] | None, allowlist: str = "", **extra_env: str
) -> tuple:
    """Run the audit script with a stub pip-audit that reports ``dependencies``."""
    stub = tmp_path / "stub_pip_audit.py"
    stub.write_text(STUB)
    (tmp_path / "allow.txt").write_text(allowlist)
    (tmp_path / "locked.txt").write_text("requests==2.32.3\nav==18.1.0\n")
    report = "" if dependencies is None else json.dumps({"dependencies": dependencies})
    vulnerable = any(d.get("vulns") for d in dependencies or [])
    env = {
        **os.environ,
        "PIP_AUDIT_CMD": f"{sys.executable} {stub}",
        "AUDIT_ALLOWLIST": str(tmp_path / "allow.txt"),
        "STUB_REPORT": report,
        "STUB_STATUS": "1" if vulnerable else "0",
    }
    env.pop("AUDIT_UNREACHABLE", None)  # only what the test asks for
    env.update(extra_env)
    done = subprocess.run(
        ["bash", str(AUDIT_SCRIPT), str(tmp_path / "locked.txt")],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def _deps(*vulns: dict) -> list[dict]:
    return [
        {"name": "requests", "version": "2.32.3", "vulns": list(vulns)},
        {"name": "av", "version": "18.1.0", "vulns": []},
    ]


def test_audit_passes_when_every_dependency_is_clean(tmp_path: Path) -> None:
    status, output = _audit(tmp_path, _deps())
    assert status == 0, output
    assert "2 of 2 pinned dependencies" in output and "no known vulnerabilities" in output


def test_audit_fails_on_a_finding_outside_the_allowlist(tmp_path: Path) -> None:
    status, output = _audit(tmp_path, _deps(VULN))
    assert status == 1, output
    assert "FINDING  requests 2.32.3 PYSEC-2099-1 (CVE-2099-0001): fixed in 9.9" in output


def test_audit_accepts_an_allowlisted_finding_by_any_alias(tmp_path: Path) -> None:
    allow = "# accepted findings\nCVE-2099-0001  # only the proxy code path is affected; unused\n"
    status, output = _audit(tmp_path, _deps(VULN), allow)
    assert status == 0, output
    assert "accepted requests 2.32.3 PYSEC-2099-1: only the proxy code path" in output


def test_audit_reports_stale_allowlist_entries(tmp_path: Path) -> None:
    status, output = _audit(tmp_path, _deps(), "GHSA-aaaa-bbbb-cccc  # fixed upstream\n")
    assert status == 0 and "GHSA-AAAA-BBBB-CCCC matches no finding" in output


def test_audit_refuses_an_allowlist_entry_without_a_reason(tmp_path: Path) -> None:
    status, output = _audit(tmp_path, _deps(VULN), "PYSEC-2099-1\n")
    assert status == 2 and "expected 'VULN-ID  # why it is accepted'" in output


def test_audit_that_could_not_run_never_passes(tmp_path: Path) -> None:
    skipped = [{"name": "requests", "skip_reason": "Dependency not found on PyPI"}]
    status, output = _audit(tmp_path, skipped + _deps()[1:])
    assert status == 3, output
    assert "1 dependencies could not be audited" in output
    status, output = _audit(tmp_path, None)  # pip-audit crashed: no report at all
    assert status == 2 and "pip-audit produced no report" in output


def test_an_unreachable_audit_passes_only_when_told_and_findings_still_fail(tmp_path: Path):
    skipped = [{"name": "requests", "skip_reason": "Dependency not found on PyPI"}]
    status, output = _audit(tmp_path, skipped + _deps()[1:], AUDIT_UNREACHABLE="warn")
    assert status == 0 and "NOT audited" in output, output
    status, output = _audit(tmp_path, skipped + _deps(VULN), AUDIT_UNREACHABLE="warn")
    assert status == 1 and "FINDING" in output, output


def test_the_project_allowlist_is_well_formed() -> None:
    allowlist = PACKAGE.parent / "audit-allowlist.txt"
    for line in allowlist.read_text().splitlines():
        text = line.strip()
        assert not text or text.startswith("#") or " # " in f" {text}", line
