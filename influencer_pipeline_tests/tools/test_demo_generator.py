"""The synthetic demo: determinism, sheet format, truth, re-uploads, videos, end cards, faces."""

from __future__ import annotations

import csv
import sys
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from influencer_tools.demo import DemoConfig, DemoError, generate_demo
from influencer_tools.demo.backgrounds import room_style
from influencer_tools.demo.camera import camera_frames
from influencer_tools.demo.outros import render_card
from influencer_tools.demo.photos import FACES_DIR, load_library
from influencer_tools.demo.plan import plan_demo
from influencer_tools.demo.render import card_design, render_video
from influencer_tools.demo.scenes import build_canvas

SHARED_PATH = Path(__file__).resolve().parents[2].parent / "shared"
TINY = DemoConfig(
    seed=11,
    n_face_influencers=3,
    n_faceless_creators=2,
    videos_per_influencer=(2, 3),
    seconds=(2.0, 2.5),
    width=180,
    height=320,
    fps=12,
    n_reuploads=4,
    workers=1,
)

_AUDIT = {"on": False, "opened": []}


def _audit(event: str, args: tuple) -> None:
    if _AUDIT["on"] and event == "open" and args and isinstance(args[0], (str, bytes, Path)):
        _AUDIT["opened"].append(str(args[0]))


sys.addaudithook(_audit)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The tiny demo generated twice (serially under a file-open audit, then with 2 workers)."""
    first = tmp_path_factory.mktemp("demo_a")
    second = tmp_path_factory.mktemp("demo_b")
    _AUDIT["opened"].clear()
    _AUDIT["on"] = True
    try:
        summary_a = generate_demo(first, TINY)
    finally:
        _AUDIT["on"] = False
    opened = list(_AUDIT["opened"])
    summary_b = generate_demo(second, replace(TINY, workers=2))  # parallel must match serial
    plan = plan_demo(TINY, load_library())
    return {"a": summary_a, "b": summary_b, "plan": plan, "opened": opened}


def _decode(path: Path) -> tuple[list[np.ndarray], float, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    return frames, fps, frames[0].shape[1], frames[0].shape[0]


def test_sheet_has_the_real_sheets_columns(demo: dict) -> None:
    sheet = pd.read_excel(demo["a"].sheet)
    assert list(sheet.columns) == ["Performance", "Video URL"]
    assert sheet["Performance"].dtype == np.float64
    assert (sheet["Performance"] == sheet["Performance"].round(4)).all()
    assert sheet["Video URL"].str.fullmatch(r"videos/v_[0-9a-f]{12}\.mp4").all()
    for url in sheet["Video URL"]:
        assert (demo["a"].out_dir / url).is_file()


def test_sheet_columns_match_the_real_sheet(demo: dict, real_sheet: Path) -> None:
    real = pd.read_excel(real_sheet)
    ours = pd.read_excel(demo["a"].sheet)
    assert list(ours.columns) == list(real.columns)
    assert ours.dtypes.tolist() == real.dtypes.tolist()


def test_same_seed_gives_same_sheet_truth_and_frames(demo: dict) -> None:
    a, b = demo["a"], demo["b"]
    for name in ("demo_sheet.xlsx", "truth.csv", "truth_influencers.csv", "README.txt"):
        assert (a.out_dir / name).read_bytes() == (b.out_dir / name).read_bytes(), name
    assert a.files == b.files
    plan = demo["plan"]
    for video in plan.videos:  # originals are byte-identical (encoder preset without MB-tree)
        assert (a.out_dir / "videos" / video.file).read_bytes() == (
            b.out_dir / "videos" / video.file
        ).read_bytes(), video.key
    for item in plan.derived:  # re-uploads: at least the same pictures
        fa, *_ = _decode(a.out_dir / "videos" / item.file)
        fb, *_ = _decode(b.out_dir / "videos" / item.file)
        assert len(fa) == len(fb)
        assert max(np.abs(x.astype(int) - y).mean() for x, y in zip(fa, fb, strict=True)) < 1.5
    library = load_library()
    video = plan.videos[0]
    first = list(render_video(plan, video, library))
    again = list(render_video(plan_demo(TINY, library), video, library))
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))


def test_other_seed_gives_other_data(demo: dict) -> None:
    other = plan_demo(replace(TINY, seed=12), load_library())
    assert [r.file for r in other.rows] != [r.file for r in demo["plan"].rows]


def test_rerun_is_idempotent_and_reuses_files(demo: dict, tmp_path: Path) -> None:
    out = demo["a"].out_dir
    sheet_before = (out / "demo_sheet.xlsx").read_bytes()
    truth_before = (out / "truth.csv").read_bytes()
    stray = out / "videos" / "v_000000000000.mp4"
    stray.write_bytes(b"old demo file")
    keep = out / "videos" / "notes.txt"
    keep.write_text("not ours")
    again = generate_demo(out, TINY)
    assert again.n_rendered == 0 and again.n_reused == again.n_files
    assert (out / "demo_sheet.xlsx").read_bytes() == sheet_before
    assert (out / "truth.csv").read_bytes() == truth_before
    assert not stray.exists() and keep.exists()


def test_truth_covers_every_sheet_row(demo: dict) -> None:
    out = demo["a"].out_dir
    sheet = pd.read_excel(out / "demo_sheet.xlsx")
    truth = pd.read_csv(out / "truth.csv", keep_default_na=False)
    assert list(truth.columns) == [
        "video_url",
        "file",
        "influencer",
        "kind",
        "duplicate_group",
        "reupload_of",
        "reupload_kind",
        "performance",
        "true_mean",
        "placement",
        "second_cut_of",
        "outro_card",
    ]
    assert len(truth) == len(sheet) == demo["a"].n_rows
    assert truth["video_url"].tolist() == sheet["Video URL"].tolist()
    assert np.allclose(truth["performance"], sheet["Performance"])
    assert truth["influencer"].str.fullmatch(r"(face|outro):\S+").all()
    assert set(truth["kind"]) == {"face", "faceless"}
    assert (truth["influencer"].str.startswith("face:") == (truth["kind"] == "face")).all()
    assert (out / "videos").joinpath(*[]).is_dir()
    assert set(truth["file"]) == {Path(u).name for u in sheet["Video URL"]}
    people = pd.read_csv(out / "truth_influencers.csv", keep_default_na=False)
    assert set(people["influencer"]) == set(truth["influencer"])
    assert people["n_rows"].sum() == len(truth)
    means = dict(zip(people["influencer"], people["true_mean"], strict=True))
    assert all(means[i] == m for i, m in zip(truth["influencer"], truth["true_mean"], strict=True))
    assert (out / "README.txt").read_text().startswith("Synthetic influencer demo")


def test_reuploads_and_duplicates_are_present(demo: dict) -> None:
    out = demo["a"].out_dir
    truth = pd.read_csv(out / "truth.csv", keep_default_na=False)
    reuploads = truth[truth["reupload_kind"].isin(["reencode", "resize", "crop", "trim"])]
    assert len(reuploads) == TINY.n_reuploads
    assert set(reuploads["reupload_kind"]) == {"reencode", "resize", "crop", "trim"}
    assert set(truth.loc[reuploads.index, "kind"]) == {"face", "faceless"}
    assert (reuploads["reupload_of"] == reuploads["duplicate_group"]).all()
    copies = truth[truth["reupload_kind"] == "exact_copy"]
    assert len(copies) == 1
    copy = copies.iloc[0]
    assert (out / "videos" / copy["file"]).read_bytes() == (
        out / "videos" / copy["reupload_of"]
    ).read_bytes()
    assert copy["file"] != copy["reupload_of"]
    doubled = truth[truth.duplicated(keep=False)]
    assert len(doubled) == 2 and doubled["video_url"].nunique() == 1
    originals = truth[truth["reupload_kind"] == ""]
    assert (originals["duplicate_group"] == originals["file"]).all()
    for _, row in reuploads.iterrows():
        frames, _, width, height = _decode(out / "videos" / row["file"])
        source, *_ = _decode(out / "videos" / row["reupload_of"])
        if row["reupload_kind"] == "resize":
            assert abs(width - 0.75 * TINY.width) <= 2 and abs(height - 0.75 * TINY.height) <= 2
        elif row["reupload_kind"] == "crop":
            assert width < TINY.width and height < TINY.height and width >= 0.9 * TINY.width
        elif row["reupload_kind"] == "trim":
            assert len(frames) < len(source)
        else:
            assert (width, height, len(frames)) == (TINY.width, TINY.height, len(source))


def test_videos_decode_at_requested_size_fps_and_duration(demo: dict) -> None:
    for video in demo["plan"].videos:
        frames, fps, width, height = _decode(demo["a"].out_dir / "videos" / video.file)
        assert (width, height) == (TINY.width, TINY.height)
        assert fps == pytest.approx(TINY.fps)
        assert len(frames) == video.n_frames
        assert TINY.seconds[0] - 0.1 <= len(frames) / fps <= TINY.seconds[1] + 0.1


def test_faceless_videos_end_with_their_creators_card(demo: dict) -> None:
    plan = demo["plan"]
    size = (TINY.width, TINY.height)
    cards = {
        c.label: np.asarray(render_card(c.outro, size), np.float32)
        for c in plan.creators
        if c.outro
    }
    assert len(cards) == TINY.n_faceless_creators
    for video in plan.videos:
        if video.ending == "none":
            continue
        frames, *_ = _decode(demo["a"].out_dir / "videos" / video.file)
        expected = np.asarray(render_card(card_design(plan, video), size), np.float32)
        for frame in frames[-3:]:
            assert np.abs(frame - expected).mean() < 3.0, video.key
        if video.kind == "faceless":
            own = np.abs(frames[-1] - expected).mean()
            for label, card in cards.items():
                if label != video.creator:  # even the look-alike card is clearly farther
                    assert np.abs(frames[-1] - card).mean() > 1.5 * own
    lookalikes = [c for c in plan.creators if c.note == "lookalike"]
    assert len(lookalikes) == 2
    assert lookalikes[0].outro.layout == lookalikes[1].outro.layout
    assert lookalikes[0].outro.brand != lookalikes[1].outro.brand


def test_photos_come_only_from_the_shipped_folder(demo: dict) -> None:
    assert demo["opened"], "the audit hook saw no file opens"
    assert not [p for p in demo["opened"] if str(SHARED_PATH) in p]
    faces = [p for p in demo["opened"] if p.endswith(".jpg")]
    assert faces and all(Path(p).resolve().is_relative_to(FACES_DIR) for p in faces)
    library = load_library()
    for video in demo["plan"].videos:
        for shot in video.shots:
            for person in shot.people:
                assert library.photos[person.identity][person.photo].path.is_file()


def test_shipped_faces_are_small_and_documented() -> None:
    total = sum(p.stat().st_size for p in FACES_DIR.rglob("*") if p.is_file())
    assert total < 6_000_000  # default set ~2 MB, development and validation folds ~3.5 MB
    assert (FACES_DIR / "LICENSES.md").is_file()
    with (FACES_DIR / "MANIFEST.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for column in (
        "shared_path",
        "source_repo",
        "source_path",
        "license_of_repo",
        "crop_x1",
        "face_y2",
    ):
        assert column in rows[0]
    library = load_library()
    influencers = library.identities("influencer")
    assert len(influencers) >= 10 and len(library.identities("other")) >= 10
    assert all(len(library.photos[i]) >= 3 for i in influencers)
    for row in rows:
        x1, y1, x2, y2 = (int(row[k]) for k in ("face_x1", "face_y1", "face_x2", "face_y2"))
        assert 0 <= x1 < x2 <= int(row["width"]) and 0 <= y1 < y2 <= int(row["height"])


def test_default_plan_has_the_intended_structure() -> None:
    plan = plan_demo(DemoConfig(), load_library())
    fps = plan.config.fps
    assert 40 <= len(plan.videos) + len(plan.derived) <= 80
    face_videos = [v for v in plan.videos if v.kind == "face"]
    shares = [v.influencer_frames / v.n_frames for v in face_videos]
    assert all(0.13 <= s <= 0.77 for s in shares)  # brief presenters: 15-45 % (issue 12)
    assert min(shares) <= 0.30 and max(shares) >= 0.55
    assert all(v.side_frames / v.n_frames <= 0.25 for v in face_videos)
    assert any(v.side_frames for v in face_videos)
    for video in plan.videos:
        assert sum(s.n_frames for s in video.shots) == video.n_frames
        assert all(s.n_frames <= 2.5 * fps + 1 for s in video.shots if s.kind != "card")
        assert video.creator.split(":")[1].lower() not in video.file
        for shot in video.shots:
            influencer = [p for p in shot.people if p.role == "influencer"]
            others = [p for p in shot.people if p.role != "influencer"]
            assert not influencer or influencer[0].identity == video.creator.split(":", 1)[1]
            assert all(p.identity != video.creator.split(":", 1)[1] for p in others)
            if shot.kind == "duo":
                assert influencer[0].face_frac > others[0].face_frac
    creators = {c.label: c for c in plan.creators}
    lucky = next(c for c in plan.creators if c.note == "lucky_single")
    steady = next(c for c in plan.creators if c.note == "steady_top")
    assert lucky.n_videos == 1
    lucky_rows = [r for r in plan.rows if r.influencer == lucky.label]
    assert len(lucky_rows) == 1
    steady_scores = [r.performance for r in plan.rows if r.influencer == steady.label]
    assert lucky_rows[0].performance > sum(steady_scores) / len(steady_scores) + 0.15
    assert steady.true_mean == max(c.true_mean for c in creators.values() if c.n_videos >= 3)
    assert steady.n_videos == plan.config.videos_per_influencer[1]
    used = {
        p.photo
        for v in plan.videos
        if v.creator == steady.label
        for s in v.shots
        for p in s.people
        if p.role == "influencer"
    }
    assert len(used) >= 3  # a different photo per video where possible


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"width": 181}, "bad_config"),
        ({"seconds": (5.0, 2.0)}, "bad_config"),
        ({"videos_per_influencer": (0, 3)}, "bad_config"),
        ({"n_face_influencers": 0, "n_faceless_creators": 0}, "bad_config"),
    ],
)
def test_bad_config_is_rejected(kwargs: dict, code: str) -> None:
    with pytest.raises(DemoError) as info:
        DemoConfig(**kwargs)
    assert info.value.code == code


def test_unusable_requests_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(DemoError) as info:
        plan_demo(DemoConfig(n_face_influencers=99), load_library())
    assert info.value.code == "bad_config"
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(DemoError) as info:
        generate_demo(not_a_dir, TINY)
    assert info.value.code == "bad_out_dir"
    with pytest.raises(DemoError) as info:
        load_library(tmp_path)
    assert info.value.code == "faces_missing"


def test_the_demos_talking_people_look_live_to_the_liveness_rule() -> None:
    """Animated people of the default set (the motion was tuned on development people), sampled
    at 1 fps as the pipeline does: fewer of their frame pairs are rigid copies than the share
    that makes a picture, as for the real presenters of shared/real_ads (0.00-0.20)."""
    from influencer_pipeline.faces.detection import FaceDetector
    from influencer_pipeline.faces.liveness import PICTURE_SHARE, aligned_patch, rigid_pairs
    from influencer_tools.demo.motion import random_motion, talking_frames
    from influencer_tools.demo.photos import person_layer

    library = load_library()
    detector = FaceDetector(batch_size=8)
    rng = np.random.default_rng(5)
    shares = []
    for identity in library.identities("influencer")[:4]:
        layer, box = person_layer(library.photos[identity][0], 110)
        head = random_motion(rng)
        times = np.arange(12.0) + 0.5
        frames = talking_frames(layer, box, head, times)
        found = [
            (t, f, d[0])
            for t, f, d in zip(times, frames, detector.detect(frames), strict=True)
            if d
        ]
        assert len(found) >= 10, identity  # MTCNN keeps finding a talking person
        rigid, pairs, _ = rigid_pairs(
            np.array([t for t, _, _ in found]),
            [d.landmarks for _, _, d in found],
            [aligned_patch(f, d.landmarks) for _, f, d in found],
        )
        shares.append(rigid / pairs)
    assert max(shares) < PICTURE_SHARE, shares


def test_mtcnn_finds_the_people_at_the_intended_sizes() -> None:
    from facenet_pytorch import MTCNN

    config = replace(DemoConfig(), width=270, height=480)
    library = load_library()
    plan = plan_demo(config, library)
    size = (config.width, config.height)
    detector = MTCNN(keep_all=True, device="cpu")
    ranges = {"talking_head": (0.08, 0.46), "side": (0.06, 0.27)}  # close and wide shots
    checked = {"talking_head": 0, "side": 0, "duo": 0}
    ratios: list[float] = []
    for video in plan.videos:
        for shot in video.shots:
            if shot.kind not in checked or checked[shot.kind] >= 3:
                continue
            checked[shot.kind] += 1
            room = room_style(np.random.default_rng(video.style_seed))
            canvas = build_canvas(shot, room, library, size)
            tone = {"brightness": shot.brightness, "grade": video.grade}
            frames = list(camera_frames(canvas, shot.n_frames, size, **tone))
            mid = (shot.zoom[0] + shot.zoom[1]) / 2
            duo_seen = 0
            for index, zoom in ((0, shot.zoom[0]), (shot.n_frames - 1, shot.zoom[1])):
                boxes, probs = detector.detect(frames[index])
                assert boxes is not None, (video.key, shot.kind)
                faces = [b for b, p in zip(boxes, probs, strict=True) if p > 0.9]
                if shot.kind == "duo" and len(faces) < 2:
                    continue  # a side character turned far away in this frame
                found = {}
                for person in shot.people:  # the detected face nearest to where it was placed
                    box = min(faces, key=lambda b: abs((b[0] + b[2]) / 2 / config.width - person.x))
                    height = (box[3] - box[1]) / config.height
                    # Live heads turn and nod (demo.motion: up to 38 degrees of yaw, 12 of
                    # pitch, an opening jaw): one frame's box is within 30 % of the still size,
                    # and the sizes of all checked frames are right on the median (below).
                    ratio = height / (person.face_frac * zoom / mid)
                    assert 0.7 <= ratio <= 1.3, (video.key, shot.kind, person.role, ratio)
                    ratios.append(ratio)
                    found[person.role] = height
                if shot.kind == "duo":
                    duo_seen += 1
                    assert found["influencer"] > found["side"]
                else:
                    low, high = ranges[shot.kind]
                    assert low <= next(iter(found.values())) <= high
            if shot.kind == "duo":
                assert duo_seen >= 1, (video.key, "both people in neither checked frame")
    assert checked == {"talking_head": 3, "side": 3, "duo": 3}
    assert float(np.median(ratios)) == pytest.approx(1.0, abs=0.1)
