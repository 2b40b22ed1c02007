"""The registry of sheets: the catalog is the union of every sheet given, until one is retired."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from influencer_pipeline.catalog.sheets import SheetError
from influencer_pipeline.catalog.sources import (
    SourcesError,
    active_sources,
    build_registered_catalog,
    empty_sources,
    find_source,
    register,
    retire,
)


def sheet(path: Path, rows: list[tuple[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["Video URL", "Performance"]).to_csv(path, index=False)
    return path


def keep_copies(lake: Path, copies: list[tuple[Path, str]]) -> None:
    (lake / "sheets").mkdir(parents=True, exist_ok=True)
    for source, name in copies:
        shutil.copyfile(source, lake / "sheets" / name)


def test_a_second_sheet_adds_and_the_same_sheet_again_changes_nothing(tmp_path: Path) -> None:
    a = sheet(
        tmp_path / "in" / "a.csv", [("https://x.test/1.mp4", 1.0), ("https://x.test/2.mp4", 2)]
    )
    b = sheet(tmp_path / "in" / "b.csv", [("https://x.test/3.mp4", 3.0)])
    registry, changes, copies = register(empty_sources(), [a])
    assert [c.change for c in changes] == ["added"]
    keep_copies(tmp_path / "lake", copies)
    registry, changes, copies = register(registry, [a, b])
    assert [c.change for c in changes] == ["unchanged", "added"]
    assert [source.name for source, _ in copies] == ["b.csv"]
    keep_copies(tmp_path / "lake", copies)
    catalog, rejected = build_registered_catalog(registry, tmp_path / "lake" / "sheets")
    assert sorted(catalog["video_url"]) == [f"https://x.test/{i}.mp4" for i in (1, 2, 3)]
    assert rejected.empty


def test_a_changed_sheet_replaces_its_rows_and_survives_deletion(tmp_path: Path) -> None:
    a = sheet(tmp_path / "a.csv", [("https://x.test/1.mp4", 1.0)])
    registry, _, copies = register(empty_sources(), [a])
    keep_copies(tmp_path / "lake", copies)
    sheet(a, [("https://x.test/1.mp4", 5.0), ("https://x.test/9.mp4", 2.0)])
    registry, changes, copies = register(registry, [a])
    assert [c.change for c in changes] == ["updated"] and len(registry) == 1
    keep_copies(tmp_path / "lake", copies)
    a.unlink()  # the lake keeps its own copy
    catalog, _ = build_registered_catalog(registry, tmp_path / "lake" / "sheets")
    assert dict(zip(catalog["video_url"], catalog["performance"], strict=True)) == {
        "https://x.test/1.mp4": 5.0,
        "https://x.test/9.mp4": 2.0,
    }


def test_the_same_content_under_two_names_is_read_once(tmp_path: Path) -> None:
    a = sheet(tmp_path / "a.csv", [("https://x.test/1.mp4", 1.0)])
    b = tmp_path / "copy" / "a.csv"
    b.parent.mkdir()
    shutil.copyfile(a, b)
    registry, _, copies = register(empty_sources(), [a, b])
    keep_copies(tmp_path / "lake", copies)
    assert len(registry) == 2 and len(active_sources(registry)) == 1
    catalog, _ = build_registered_catalog(registry, tmp_path / "lake" / "sheets")
    assert catalog["n_rows"].tolist() == [1]


def test_retire_takes_a_sheet_out_and_giving_it_again_restores_it(tmp_path: Path) -> None:
    a = sheet(tmp_path / "a.csv", [("https://x.test/1.mp4", 1.0)])
    b = sheet(tmp_path / "b.csv", [("https://x.test/2.mp4", 2.0)])
    registry, _, copies = register(empty_sources(), [a, b])
    keep_copies(tmp_path / "lake", copies)
    registry, changes = retire(registry, ["a.csv"])
    assert [c.change for c in changes] == ["retired"]
    catalog, _ = build_registered_catalog(registry, tmp_path / "lake" / "sheets")
    assert catalog["video_url"].tolist() == ["https://x.test/2.mp4"]
    registry, changes, _ = register(registry, [a])
    assert [c.change for c in changes] == ["restored"]
    assert len(active_sources(registry)) == 2


def test_relative_paths_resolve_against_the_original_folder(tmp_path: Path) -> None:
    (tmp_path / "in" / "videos").mkdir(parents=True)
    a = sheet(tmp_path / "in" / "a.csv", [("videos/clip.mp4", 1.0)])
    registry, _, copies = register(empty_sources(), [a])
    keep_copies(tmp_path / "lake", copies)
    catalog, _ = build_registered_catalog(registry, tmp_path / "lake" / "sheets")
    assert catalog["video_url"].iloc[0] == (tmp_path / "in" / "videos" / "clip.mp4").as_uri()
    assert catalog["source_sheets"].iloc[0] == [str(a)]


def test_unusable_sheets_are_never_registered(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(SheetError):
        register(empty_sources(), [empty])


def test_names_must_be_known_and_unambiguous(tmp_path: Path) -> None:
    a = sheet(tmp_path / "one" / "s.csv", [("https://x.test/1.mp4", 1.0)])
    b = sheet(tmp_path / "two" / "s.csv", [("https://x.test/2.mp4", 1.0)])
    registry, _, _ = register(empty_sources(), [a, b])
    with pytest.raises(SourcesError) as ambiguous:
        find_source(registry, "s.csv")
    assert ambiguous.value.code == "ambiguous_sheet"
    with pytest.raises(SourcesError) as unknown:
        find_source(registry, "nope.csv")
    assert unknown.value.code == "unknown_sheet"
    assert find_source(registry, str(b)) == str(b)


def test_a_lost_copy_is_a_clear_error(tmp_path: Path) -> None:
    a = sheet(tmp_path / "a.csv", [("https://x.test/1.mp4", 1.0)])
    registry, _, _ = register(empty_sources(), [a])
    with pytest.raises(SheetError) as error:
        build_registered_catalog(registry, tmp_path / "lake" / "sheets")
    assert error.value.code == "snapshot_missing"
