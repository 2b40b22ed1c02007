"""The leaderboard report: file contents, determinism, bad input, and real headless Chromium."""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from influencer_pipeline import lake
from influencer_pipeline.lake_schema import RANKED_INFLUENCERS, VIDEO_INFLUENCERS, to_arrow
from influencer_pipeline.ranking import report
from influencer_pipeline.ranking.metrics import observations, population_stats, rank_influencers
from influencer_pipeline.ranking.report import ReportInputError, write_report
from influencer_pipeline.xlsx_files import FIXED_DOC_TIME, FIXED_ZIP_TIME
from influencer_pipeline_tests import browser

chromium = browser.chromium  # the session fixture: skips when Chromium is not installed

PROJECT_DIR = Path(__file__).resolve().parents[2]
FACES_DIR = PROJECT_DIR / "influencer_tools" / "demo" / "faces"
CARD_RGB = (192, 38, 211)  # the outro card's background: easy to find in the screenshot
FACE_PEOPLE = {  # influencer_id -> (picture, performances)
    "F-0b4a1c9d2e": ("barack_obama/1.jpg", [0.80, 0.92, 0.84, 0.95, 0.83, 0.88]),
    "F-1c5e7a3f90": ("ben_affleck/1.jpg", [0.91]),  # one lucky video
    "F-2d6f8b4a01": ("elton_john/1.jpg", [0.15, 0.75, 0.40, 0.62]),
    "F-3e7a9c5b12": ("kit_harington/1.jpg", [0.20, 0.35, 0.28]),
}
OUTRO_ID = "O-4f8bad6c23"
OUTRO_PERF = [0.45, 0.68, 0.52, 0.61, 0.40]
DISPLAY_NAME = "Brand & Co <outro>"  # a corrections display name, with characters to escape
FAILED = {
    "f0000000000000a1": "HTTP 404 Not Found: the server has no video at this URL",
    "f0000000000000a2": "not a video: the file is an HTML page (text/html)",
}


def face_thumbnail(relative: str) -> bytes:
    """A face crop (JPEG) of a shipped demo photo, with a margin around MANIFEST.csv's face box."""
    with open(FACES_DIR / "MANIFEST.csv", newline="", encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["path"] == relative)
    x1, y1, x2, y2 = (float(row[k]) for k in ("face_x1", "face_y1", "face_x2", "face_y2"))
    mx, my = 0.3 * (x2 - x1), 0.3 * (y2 - y1)
    with Image.open(FACES_DIR / relative) as image:
        crop = image.convert("RGB").crop(
            (max(0, x1 - mx), max(0, y1 - my), min(image.width, x2 + mx), y2 + my)
        )
    out = io.BytesIO()
    crop.save(out, format="JPEG", quality=90)
    return out.getvalue()


def outro_card() -> bytes:
    """A vertical outro card drawn with PIL: coloured background, a logo box and text."""
    card = Image.new("RGB", (180, 320), CARD_RGB)
    draw = ImageDraw.Draw(card)
    draw.rectangle((40, 70, 140, 150), fill=(255, 255, 255))
    draw.ellipse((65, 85, 115, 135), fill=(20, 20, 20))
    draw.text((48, 190), "SHOP NOW", fill=(255, 255, 255))
    draw.text((40, 220), "brand.example", fill=(255, 240, 120))
    out = io.BytesIO()
    card.save(out, format="JPEG", quality=90)
    return out.getvalue()


def video_row(video_id: str, influencer: str | None, method: str | None, perf: float, **kw):
    """One video_influencers row."""
    row = {
        "video_id": video_id,
        "video_url": f"https://www.tiktok.com/@creator/video/{video_id}?lang=en&src=sheet",
        "performance": perf,
        "status": "ok",
        "error": None,
        "influencer_id": influencer,
        "method": method,
        "duplicate_of": None,
        "assignment": "cluster" if method == "face" else "outro group",
        "influencer_name": None,
        "excluded": False,
        "n_rows": 1,
        "score_conflict": False,
    }
    row.update(kw)
    return row


def make_videos() -> pd.DataFrame:
    """Catalog videos of four face influencers, one outro group, a re-upload and two failures."""
    rows = []
    for k, (influencer, (_, perfs)) in enumerate(FACE_PEOPLE.items()):
        rows += [video_row(f"v{k}{j:014d}", influencer, "face", p) for j, p in enumerate(perfs)]
    rows += [video_row(f"o{j:015d}", OUTRO_ID, "outro", p) for j, p in enumerate(OUTRO_PERF)]
    rows.append(  # a re-upload of Obama's first video, posted again with its own score
        video_row("r000000000000001", "F-0b4a1c9d2e", "face", 0.88, duplicate_of="v0" + "0" * 14,
                  assignment="re-upload", n_rows=2, score_conflict=True)
    )  # fmt: skip
    rows += [
        video_row(v, None, None, 0.5, status="failed", error=e, assignment=None)
        for v, e in FAILED.items()
    ]
    return pd.DataFrame(rows, columns=VIDEO_INFLUENCERS.names)


def make_ranked(videos: pd.DataFrame) -> pd.DataFrame:
    """The ranking of ``videos`` as the pipeline stores it, with real pictures."""
    ranked = rank_influencers(videos[videos["status"] == "ok"])
    pictures = {i: face_thumbnail(pic) for i, (pic, _) in FACE_PEOPLE.items()}
    pictures[OUTRO_ID] = outro_card()
    ranked["thumbnail"] = ranked["influencer_id"].map(pictures)
    ranked["representative_video_id"] = [ids[0] for ids in ranked["video_ids"]]
    ranked["influencer_name"] = ranked["influencer_id"].map({OUTRO_ID: DISPLAY_NAME})
    return ranked[RANKED_INFLUENCERS.names]


@pytest.fixture()
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ranked, videos) built from the shipped demo faces and a drawn outro card."""
    videos = make_videos()
    return make_ranked(videos), videos


class Links(HTMLParser):
    """Collects every tag and its src/href/srcset/style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in {"src", "href", "srcset", "poster", "data", "action"} and value is not None:
                self.refs.append((tag, name, value))


def test_report_writes_all_files(tables, tmp_path: Path) -> None:
    ranked, videos = tables
    files = write_report(ranked, videos, tmp_path / "out", generated_from="unit test sheet")
    assert {p.name for p in (files.html, files.csv, files.xlsx, files.png)} == {
        "leaderboard.html",
        "leaderboard.csv",
        "leaderboard.xlsx",
        "leaderboard.png",
    }
    board = pd.read_csv(files.csv)
    assert list(board.columns) == [c for c in RANKED_INFLUENCERS.names if c != "thumbnail"]
    assert list(board["influencer_id"]) == list(ranked["influencer_id"])
    assert list(board["rank"]) == list(range(1, len(ranked) + 1))
    assert board["video_ids"].str.split(";").map(len).tolist() == ranked["n_videos"].tolist()
    assert board["score"].is_monotonic_decreasing
    steady = board.set_index("influencer_id").loc["F-0b4a1c9d2e"]
    assert bool(steady["consistently_above_average"]) and steady["n_reuploads"] == 1
    assert np.allclose(board["score"], ranked["score"])

    sheets = pd.read_excel(files.xlsx, sheet_name=None)
    assert list(sheets) == ["leaderboard", "videos", "about"]
    assert list(sheets["leaderboard"].columns) == list(board.columns)
    assert len(sheets["videos"]) == len(videos)  # failed videos included
    failed = sheets["videos"][sheets["videos"]["status"] == "failed"]
    assert set(failed["error"]) == set(FAILED.values()) and failed["rank"].isna().all()
    about = dict(zip(sheets["about"]["item"], sheets["about"]["meaning"], strict=True))
    assert "shrunk mean" in about["score"] and about["generated_from"] == "unit test sheet"

    with Image.open(files.png) as plot:
        assert plot.format == "PNG" and plot.width >= 800 and plot.height >= 500
        assert np.asarray(plot.convert("L"), dtype=float).std() > 10

    page = files.html.read_text(encoding="utf-8")
    for influencer in ranked["influencer_id"]:
        assert f'id="inf-{influencer}"' in page
    for error in FAILED.values():
        assert error in page
    assert "Failed videos (2)" in page
    assert page.count("consistently above average</span>") >= 2  # legend + Obama's badge
    assert "re-upload of <code>v000000000000000</code>" in page
    assert "2 sheet rows" in page and "sheet rows disagree on the score" in page
    assert "not necessarily one person" in page
    assert "empirical-Bayes shrunk mean" in page and "95 % interval" in page
    assert page.count("data:image/jpeg;base64,") == len(ranked)
    assert "&amp;src=sheet" in page and "&src=sheet" not in page  # URLs are escaped
    assert "Brand &amp; Co &lt;outro&gt;" in page and DISPLAY_NAME not in page


def test_html_loads_nothing_external(tables, tmp_path: Path) -> None:
    ranked, videos = tables
    page = write_report(ranked, videos, tmp_path).html.read_text(encoding="utf-8")
    parser = Links()
    parser.feed(page)
    assert "link" not in parser.tags and "iframe" not in parser.tags
    video_urls = set(videos["video_url"])
    for tag, name, value in parser.refs:
        if name == "src":
            assert value.startswith("data:image/"), (tag, value[:80])
        elif name == "href":
            assert tag == "a" and (value.startswith("#") or value in video_urls), value
        else:
            pytest.fail(f"unexpected resource attribute {name} on {tag}")
    assert "url(" not in page and "@import" not in page
    assert "<script src" not in page
    links = {v for t, n, v in parser.refs if n == "href" and not v.startswith("#")}
    assert links == video_urls  # every video, failed ones too, is linked


def test_report_is_deterministic(tables, tmp_path: Path) -> None:
    ranked, videos = tables
    first = write_report(ranked, videos, tmp_path / "a")
    second = write_report(ranked.sample(frac=1, random_state=3), videos[::-1], tmp_path / "b")
    for name in ("html", "csv", "xlsx", "png"):
        assert getattr(first, name).read_bytes() == getattr(second, name).read_bytes(), name
    with zipfile.ZipFile(first.xlsx) as book:
        assert {i.date_time for i in book.infolist()} == {FIXED_ZIP_TIME}
        core = book.read("docProps/core.xml").decode()
    assert FIXED_DOC_TIME in core and str(pd.Timestamp.now().year) not in core


@pytest.mark.parametrize("count", ["each_post", "canonical_once"])
def test_overall_mean_is_recovered_from_the_ranking(count: str) -> None:
    videos = make_videos()
    ok = videos[videos["status"] == "ok"]
    ranked = rank_influencers(ok, count)
    expected = population_stats(observations(ok, count)).overall_mean
    assert report.overall_mean(*report.prepare_inputs(ranked, videos)) == pytest.approx(expected)


def test_videos_not_counted_are_listed_with_a_reason(tables, tmp_path: Path) -> None:
    ranked, videos = tables
    stray = video_row("u000000000000001", None, None, 0.4, assignment=None)
    stale = video_row("s000000000000001", OUTRO_ID, "outro", 0.7)
    excluded = video_row("x000000000000001", OUTRO_ID, "outro", 0.1, excluded=True)
    videos = pd.concat([videos, pd.DataFrame([stray, stale, excluded])], ignore_index=True)
    page = write_report(ranked, videos, tmp_path).html.read_text(encoding="utf-8")
    assert "Processed but not ranked (3)" in page
    assert "excluded from the ranking by a correction" in page
    assert "no influencer was assigned to this video" in page
    assert f"assigned to {OUTRO_ID}, which the ranking does not count it for" in page


def test_empty_ranking_gives_a_clear_page(tmp_path: Path) -> None:
    videos = pd.DataFrame(
        [
            video_row(v, None, None, 0.5, status="failed", error=e, assignment=None)
            for v, e in FAILED.items()
        ]
    )
    ranked = rank_influencers(videos[videos["status"] == "ok"])
    files = write_report(ranked, videos, tmp_path)
    page = files.html.read_text(encoding="utf-8")
    assert "No influencers ranked yet" in page and "Failed videos (2)" in page
    assert 'id="board"' not in page
    assert pd.read_csv(files.csv).empty
    assert pd.read_excel(files.xlsx, sheet_name="videos")["status"].tolist() == ["failed"] * 2
    with Image.open(files.png) as plot:
        assert plot.format == "PNG" and plot.width > 100


def test_missing_thumbnail_and_broken_picture(tables, tmp_path: Path) -> None:
    ranked, videos = tables
    ranked = ranked.copy()
    ranked.loc[0, "thumbnail"] = None
    ranked.loc[1, "thumbnail"] = b"not an image"
    page = write_report(ranked, videos, tmp_path).html.read_text(encoding="utf-8")
    assert page.count("data:image/jpeg;base64,") == len(ranked) - 2
    assert page.count('class="pic nopic"') == 2


def test_unsafe_urls_are_not_links(tables, tmp_path: Path) -> None:
    ranked, videos = tables
    videos = videos.copy()
    videos.loc[videos["status"] == "failed", "video_url"] = 'javascript:alert("x")'
    page = write_report(ranked, videos, tmp_path).html.read_text(encoding="utf-8")
    assert 'href="javascript' not in page
    assert "javascript:alert(&quot;x&quot;)" in page  # shown as text, escaped


def test_plot_of_many_sizes_uses_a_log_axis(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rows = [
        video_row(f"a{j:015d}", "F-aaaaaaaaaa", "face", p)
        for j, p in enumerate(rng.normal(0.6, 0.1, 40))
    ]
    rows += [
        video_row(f"b{j:015d}", f"F-b{j:09d}", "face", rng.normal(0.5, 0.2)) for j in range(12)
    ]
    rows += [
        video_row(f"c{j:015d}", "O-cccccccccc", "outro", p)
        for j, p in enumerate(rng.normal(0.4, 0.1, 5))
    ]
    videos = pd.DataFrame(rows)
    ranked = rank_influencers(videos)
    assert ranked["n_videos"].max() / ranked["n_videos"].min() >= report.LOG_X_RATIO
    files = write_report(ranked, videos, tmp_path)
    with Image.open(files.png) as plot:
        assert np.asarray(plot.convert("L"), dtype=float).std() > 10
    assert files.html.read_text(encoding="utf-8").count('class="pic nopic"') == len(ranked)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda r, v: (r.drop(columns="score"), v), "missing_columns"),
        (lambda r, v: (r, v.drop(columns="status")), "missing_columns"),
        (lambda r, v: (r, v.assign(status="done")), "bad_status"),
        (lambda r, v: (pd.concat([r, r.head(1)]), v), "duplicate_influencer"),
        (lambda r, v: (r.assign(method="voice"), v), "bad_method"),
        (lambda r, v: (r.assign(score=np.nan), v), "bad_number"),
        (lambda r, v: (r, pd.concat([v, v.head(1)])), "duplicate_video"),
    ],
)
def test_bad_input_is_refused_with_a_code(tables, tmp_path: Path, change, code: str) -> None:
    ranked, videos = change(*tables)
    with pytest.raises(ReportInputError) as caught:
        write_report(ranked, videos, tmp_path)
    assert caught.value.code == code
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_load_from_the_lake(tables, tmp_path: Path) -> None:
    ranked, videos = tables
    lake_dir = tmp_path / "lake"
    with pytest.raises(FileNotFoundError, match=r"ranked_influencers.*run the pipeline first"):
        report.load_and_write_report(str(lake_dir), tmp_path / "out")
    lake.write_parquet_atomic(
        to_arrow(ranked, RANKED_INFLUENCERS), lake_dir / "ranked_influencers.parquet"
    )
    with pytest.raises(FileNotFoundError, match="video_influencers"):
        report.load_and_write_report(str(lake_dir), tmp_path / "out")
    lake.write_parquet_atomic(
        to_arrow(videos, VIDEO_INFLUENCERS), lake_dir / "video_influencers.parquet"
    )
    files = report.load_and_write_report(str(lake_dir), tmp_path / "out")
    direct = write_report(ranked, videos, tmp_path / "direct", generated_from=f"lake {lake_dir}")
    assert files.csv.read_bytes() == direct.csv.read_bytes()
    assert files.html.read_bytes() == direct.html.read_bytes()


@pytest.mark.slow
def test_leaderboard_renders_in_headless_chromium(tables, tmp_path: Path, chromium) -> None:
    from influencer_pipeline.faces.detection import FaceDetector

    ranked, videos = tables
    files = write_report(ranked, videos, tmp_path / "report", generated_from="unit test sheet")

    net_log = tmp_path / "net.json"
    dom = chromium.dump_dom(files.html, net_log=net_log)
    for influencer in ranked["influencer_id"]:
        assert f'id="inf-{influencer}"' in dom
    for video_id in videos["video_id"]:  # counted videos in their lists, failed ones in theirs
        assert f'data-video="{video_id}"' in dom
    assert browser.page_requests(net_log) == []  # the page requested nothing from any network
    shot = chromium.screenshot(files.html, tmp_path / "shot.png", width=1280, height=1500)
    page = files.html.read_text(encoding="utf-8")
    without_script = tmp_path / "no-script.html"
    without_script.write_text(re.sub(r"<script>.*?</script>", "", page, flags=re.S), "utf-8")
    assert "<script" not in without_script.read_text(encoding="utf-8")
    no_js = chromium.screenshot(without_script, tmp_path / "no-js.png", width=1280, height=1500)
    with Image.open(shot) as image, Image.open(no_js) as static:
        assert np.array_equal(np.asarray(image), np.asarray(static))  # complete without JS
    out_dir = PROJECT_DIR / "test-output"
    out_dir.mkdir(exist_ok=True)
    shutil.copyfile(shot, out_dir / "leaderboard.png")
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[:2] == (1500, 1280)
    assert pixels.astype(float).std() > 20  # not blank

    faces = FaceDetector().detect([pixels])[0]
    confident = [f for f in faces if f.score >= 0.95]
    assert len(confident) >= len(FACE_PEOPLE), [f.score for f in faces]
    centres = [(f.box[0] + f.box[2]) / 2 for f in confident]
    assert max(centres) - min(centres) < 80  # all in the picture column, one per row
    for face in confident:
        x1, y1, x2, y2 = (int(v) for v in face.box)
        assert pixels[y1:y2, x1:x2].astype(float).std() > 15  # the thumbnail area is not uniform

    card = np.all(np.abs(pixels.astype(int) - CARD_RGB) < 40, axis=2)
    assert card.sum() > 1500  # the outro card is shown
    ys, xs = np.nonzero(card)
    area = pixels[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(float)
    assert area.std() > 30  # with its logo and text, not a flat colour


@pytest.mark.slow
def test_empty_leaderboard_renders_in_headless_chromium(tmp_path: Path, chromium) -> None:
    videos = pd.DataFrame(
        [video_row("f0000000000000a1", None, None, 0.5, status="failed", error="HTTP 404")]
    )
    files = write_report(rank_influencers(videos.iloc[0:0]), videos, tmp_path)
    dom = chromium.dump_dom(files.html)
    assert 'id="no-influencers"' in dom and "No influencers ranked yet" in dom
    assert 'data-video="f0000000000000a1"' in dom


@pytest.mark.slow
def test_net_log_check_catches_an_external_load(tmp_path: Path, chromium) -> None:
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="stylesheet" href="https://cdn.invalid/x.css">'
        '</head><body><img src="http://192.0.2.10/pixel.png"><a href="https://example.com/v">'
        "a link is not a load</a></body></html>",
        encoding="utf-8",
    )
    net_log = tmp_path / "net.json"
    chromium.dump_dom(page, net_log=net_log, budget_ms=1000)
    assert sorted(browser.page_requests(net_log)) == [
        "http://192.0.2.10/pixel.png",
        "https://cdn.invalid/x.css",
    ]
