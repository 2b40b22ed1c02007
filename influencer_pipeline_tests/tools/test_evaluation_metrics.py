"""Evaluation metrics, truth loading and the evaluation report, on hand-made label sets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from influencer_tools.evaluation.metrics import (
    MetricsInputError,
    bcubed,
    pairwise,
    splits,
    wrong_merges,
)
from influencer_tools.evaluation.report import (
    EvaluationInputError,
    evaluate_assignments,
    format_report,
)
from influencer_tools.evaluation.truth import TruthFileError, load_truth, validate_truth

# Hand example used below. truth: A = {1, 2, 3}, B = {4, 5}; pred: x = {1, 2}, y = {3, 4, 5}.
TRUTH = {1: "A", 2: "A", 3: "A", 4: "B", 5: "B"}
PRED = {1: "x", 2: "x", 3: "y", 4: "y", 5: "y"}


def approx(values: tuple[float, ...]) -> object:
    """pytest.approx for a tuple."""
    return pytest.approx(values, abs=1e-12)


def test_bcubed_hand_computed() -> None:
    # precision per item: 1,2 -> 2/2; 3 -> 1/3 (y holds one A of three); 4,5 -> 2/3
    #   P = (1 + 1 + 1/3 + 2/3 + 2/3) / 5 = (11/3) / 5 = 11/15
    # recall per item: 1,2 -> 2/3 (A has 3, two in x); 3 -> 1/3; 4,5 -> 2/2
    #   R = (2/3 + 2/3 + 1/3 + 1 + 1) / 5 = (11/3) / 5 = 11/15
    p, r, f = bcubed(PRED, TRUTH)
    assert (p, r, f) == approx((11 / 15, 11 / 15, 11 / 15))


def test_pairwise_hand_computed() -> None:
    # predicted pairs: x -> (1,2); y -> (3,4),(3,5),(4,5): 4 pairs, 2 correct ((1,2), (4,5))
    # true pairs: A -> 3, B -> 1: 4 pairs, 2 found.  P = R = F = 1/2
    assert pairwise(PRED, TRUTH) == approx((0.5, 0.5, 0.5))


def test_asymmetric_hand_example() -> None:
    # truth A = {a, b, c, d}; pred p = {a, b}, q = {c}, r = {d} (a pure split)
    truth = dict.fromkeys("abcd", "A")
    pred = {"a": "p", "b": "p", "c": "q", "d": "r"}
    # BCubed: precision 1; recall = (2/4 + 2/4 + 1/4 + 1/4) / 4 = 3/8; F = 2*(3/8)/(11/8) = 6/11
    assert bcubed(pred, truth) == approx((1.0, 3 / 8, 6 / 11))
    # pairwise: 1 predicted pair, correct; 6 true pairs -> P 1, R 1/6, F = 2/7
    assert pairwise(pred, truth) == approx((1.0, 1 / 6, 2 / 7))


def test_perfect_clustering_scores_one_even_with_other_label_names() -> None:
    pred = {k: f"cluster-{v}" for k, v in TRUTH.items()}
    assert bcubed(pred, TRUTH) == approx((1.0, 1.0, 1.0))
    assert pairwise(pred, TRUTH) == approx((1.0, 1.0, 1.0))
    assert wrong_merges(pred, TRUTH) == []
    assert splits(pred, TRUTH) == []


def test_all_in_one_cluster() -> None:
    pred = dict.fromkeys(TRUTH, "everyone")
    # BCubed precision: items of A see 3/5, of B 2/5 -> (3*3/5 + 2*2/5)/5 = 13/25; recall 1
    p, r, f = bcubed(pred, TRUTH)
    assert (p, r) == approx((13 / 25, 1.0))
    assert f == pytest.approx(2 * p / (p + 1))
    # pairwise: 10 predicted pairs, 4 true -> P 0.4, R 1
    assert pairwise(pred, TRUTH)[:2] == approx((0.4, 1.0))
    merges = wrong_merges(pred, TRUTH)
    assert len(merges) == 1
    assert merges[0].label == "everyone"
    assert merges[0].parts == [("A", [1, 2, 3]), ("B", [4, 5])]


def test_all_singletons_precision_defined_as_one() -> None:
    pred = {k: f"s{k}" for k in TRUTH}
    # no predicted pairs: pairwise precision is defined as 1.0, recall 0
    assert pairwise(pred, TRUTH) == approx((1.0, 0.0, 0.0))
    # BCubed recall = (1/3 * 3 + 1/2 * 2) / 5 = 2/5
    assert bcubed(pred, TRUTH) == approx((1.0, 0.4, 2 * 0.4 / 1.4))


def test_missing_predictions_count_as_singletons() -> None:
    # identical to the all-singletons case when nothing is predicted, also for None/NaN labels
    expected = pairwise({k: f"s{k}" for k in TRUTH}, TRUTH)
    assert pairwise({}, TRUTH) == expected
    assert pairwise(dict.fromkeys(TRUTH, None), TRUTH) == expected
    assert bcubed(dict.fromkeys(TRUTH, math.nan), TRUTH) == bcubed({}, TRUTH)
    # two missing items never share a cluster, even though both "labels" are None
    pred = {1: None, 2: None, 3: "x", 4: "y", 5: "y"}
    assert pairwise(pred, TRUTH) == approx((1.0, 0.25, 0.4))
    split = {s.label: s for s in splits(pred, TRUTH)}
    assert split["A"].parts == [("x", [3]), (None, [1]), (None, [2])]  # None parts last


def test_items_only_in_pred_are_ignored() -> None:
    pred = dict(PRED, extra1="x", extra2="y")
    assert bcubed(pred, TRUTH) == bcubed(PRED, TRUTH)


def test_single_item_and_empty() -> None:
    assert bcubed({"a": 1}, {"a": "A"}) == (1.0, 1.0, 1.0)
    assert pairwise({"a": 1}, {"a": "A"}) == (1.0, 1.0, 1.0)
    assert bcubed({}, {}) == (1.0, 1.0, 1.0)
    assert pairwise({}, {}) == (1.0, 1.0, 1.0)
    assert wrong_merges({}, {}) == [] and splits({}, {}) == []


def test_missing_truth_label_is_an_error() -> None:
    with pytest.raises(MetricsInputError) as info:
        bcubed({"a": 1}, {"a": None})
    assert info.value.code == "missing_truth"


def test_merge_and_split_listing() -> None:
    merges = wrong_merges(PRED, TRUTH)
    assert [(m.label, m.parts) for m in merges] == [("y", [("B", [4, 5]), ("A", [3])])]
    found = splits(PRED, TRUTH)
    assert [(s.label, s.parts) for s in found] == [("A", [("x", [1, 2]), ("y", [3])])]
    assert found[0].n_items == 3
    json.dumps([m.to_dict() for m in merges] + [s.to_dict() for s in found])


labelings = st.dictionaries(
    st.integers(0, 30), st.tuples(st.sampled_from("abcd"), st.sampled_from("wxyz")), max_size=30
)


@settings(max_examples=60, deadline=None)
@given(labelings)
def test_scores_in_unit_interval_and_symmetric_roles(pairs: dict) -> None:
    pred = {k: v[0] for k, v in pairs.items()}
    truth = {k: v[1] for k, v in pairs.items()}
    for metric in (bcubed, pairwise):
        p, r, f = metric(pred, truth)
        assert all(0 <= v <= 1 for v in (p, r, f))
        # swapping the roles of pred and truth swaps precision and recall
        p2, r2, _ = metric(truth, pred)
        assert (p2, r2) == pytest.approx((r, p))
    assert (bcubed(pred, truth)[0] == pytest.approx(1.0)) == (not wrong_merges(pred, truth))
    assert (bcubed(pred, truth)[1] == pytest.approx(1.0)) == (not splits(pred, truth))


# --- truth files --------------------------------------------------------------------------


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Write rows as CSV and return the path."""
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_load_truth_folds_repeated_urls_and_normalizes_columns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "truth.csv",
        [
            {"Video URL": "videos/a.mp4", "Influencer": "face:ann", "Kind": "face", "file": "a"},
            {"Video URL": "videos/a.mp4", "Influencer": "face:ann", "Kind": "face", "file": "a"},
            {"Video URL": " videos/b.mp4", "Influencer": "outro:zed", "Kind": "faceless"},
        ],
    )
    truth = load_truth(path)
    assert list(truth["video_url"]) == ["videos/a.mp4", "videos/b.mp4"]
    assert list(truth["n_rows"]) == [2, 1]
    assert list(truth["kind"]) == ["face", "faceless"]
    assert truth["duplicate_group"].isna().all()
    assert list(truth["source_row"]) == [2, 4]
    assert "file" in truth.columns


def test_load_truth_reads_xlsx_and_parquet(tmp_path: Path) -> None:
    df = pd.DataFrame({"video_url": ["u1", "u2"], "influencer": ["a", "b"]})
    df.to_excel(tmp_path / "t.xlsx", index=False)
    df.to_parquet(tmp_path / "t.parquet")
    for name in ("t.xlsx", "t.parquet"):
        assert list(load_truth(tmp_path / name)["influencer"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("rows", "code"),
    [
        ([{"video_url": "a"}], "missing_columns"),
        ([{"video_url": "a", "influencer": ""}], "missing_value"),
        ([{"video_url": "a", "influencer": "x", "kind": "person"}], "bad_kind"),
        (
            [{"video_url": "a", "influencer": "x"}, {"video_url": "a", "influencer": "y"}],
            "conflicting_labels",
        ),
    ],
)
def test_truth_errors(tmp_path: Path, rows: list[dict], code: str) -> None:
    with pytest.raises(TruthFileError) as info:
        load_truth(write_csv(tmp_path / "t.csv", rows))
    assert info.value.code == code
    assert str(info.value)


def test_truth_file_errors(tmp_path: Path) -> None:
    with pytest.raises(TruthFileError) as info:
        load_truth(tmp_path / "nope.csv")
    assert info.value.code == "not_found"
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(TruthFileError) as info:
        load_truth(tmp_path / "t.json")
    assert info.value.code == "unsupported_format"
    with pytest.raises(TruthFileError) as info:
        validate_truth(pd.DataFrame({"url": ["a"], "URL": ["b"], "influencer": ["x"]}))
    assert info.value.code == "duplicate_column"


# --- evaluation report ------------------------------------------------------------------


def pipeline_rows(rows: list[tuple[str, str | None, str, str]]) -> pd.DataFrame:
    """video_influencers rows from (url, influencer_id, method, status)."""
    return pd.DataFrame(
        {
            "video_id": [f"id{i}" for i in range(len(rows))],
            "video_url": [r[0] for r in rows],
            "influencer_id": [r[1] for r in rows],
            "method": [r[2] for r in rows],
            "status": [r[3] for r in rows],
            "duplicate_of": [None] * len(rows),
        }
    )


def demo_truth() -> pd.DataFrame:
    """Truth as written in a sheet (relative paths): 4 face videos, 3 faceless."""
    return validate_truth(
        pd.DataFrame(
            {
                "video_url": [f"videos/{c}.mp4" for c in "abcdefg"],
                "influencer": ["face:ann"] * 3 + ["face:bob", "outro:z", "outro:z", "outro:q"],
                "kind": ["face"] * 4 + ["faceless"] * 3,
            }
        )
    )


def test_evaluate_assignments_join_metrics_and_listing() -> None:
    predicted = pipeline_rows(
        [
            ("file:///lake/videos/a.mp4", "F-1", "face", "ok"),
            ("file:///lake/videos/b.mp4", "F-1", "face", "ok"),
            ("file:///lake/videos/c.mp4", "F-2", "face", "ok"),  # ann split over F-1 and F-2
            ("file:///lake/videos/d.mp4", "F-2", "face", "ok"),  # bob merged into F-2
            ("file:///lake/videos/e.mp4", "O-1", "outro", "ok"),
            ("file:///lake/videos/f.mp4", None, "outro", "failed"),  # failed -> singleton
            ("file:///lake/videos/x.mp4", "O-9", "outro", "ok"),  # not in the truth
        ]
    )
    truth = demo_truth()
    report = evaluate_assignments(predicted, truth, normalize=lambda u: f"file:///lake/{u}")
    assert report.n_truth_videos == 7
    assert report.n_matched == 6
    assert report.n_failed == 1
    assert report.n_extra_predictions == 1
    assert report.unmatched_truth_urls == ["file:///lake/videos/g.mp4"]
    face = report.sections["face"]
    assert (face.n_videos, face.n_true_influencers, face.n_predicted_influencers) == (4, 2, 2)
    # face: pred F-1 {a,b}, F-2 {c,d}; truth ann {a,b,c}, bob {d}
    # pairwise: predicted pairs (a,b) ok, (c,d) wrong -> P 1/2; true pairs ab, ac, bc -> R 1/3
    assert face.pairwise == approx((0.5, 1 / 3, 0.4))
    assert [m.label for m in face.wrong_merges] == ["F-2"]
    assert face.wrong_merges[0].parts == [
        ("face:ann", ["file:///lake/videos/c.mp4"]),
        ("face:bob", ["file:///lake/videos/d.mp4"]),
    ]
    assert [s.label for s in face.splits] == ["face:ann"]
    faceless = report.sections["faceless"]
    # faceless: e -> O-1, f failed, g missing: three singletons; truth z = {e, f}, q = {g}
    assert faceless.n_predicted_influencers == 3
    assert faceless.pairwise == approx((1.0, 0.0, 0.0))
    assert [s.label for s in faceless.splits] == ["outro:z"]
    assert report.sections["all"].n_videos == 7
    assert report.method_by_kind == {
        "face": {"face": 4},
        "faceless": {"outro": 1, "failed": 1, "missing": 1},
    }
    text = format_report(report)
    assert "F-2" in text and "file:///lake/videos/d.mp4" in text and "[faceless]" in text
    assert (
        json.loads(json.dumps(report.to_dict()))["sections"]["face"]["pairwise"]["precision"] == 0.5
    )


def test_evaluate_perfect_assignment() -> None:
    truth = demo_truth()
    labels = {"face:ann": "F-a", "face:bob": "F-b", "outro:z": "O-z", "outro:q": "O-q"}
    predicted = pipeline_rows(
        [
            (url, labels[lab], "face" if lab.startswith("face") else "outro", "ok")
            for url, lab in zip(truth["video_url"], truth["influencer"], strict=True)
        ]
    )
    report = evaluate_assignments(predicted, truth)
    for section in report.sections.values():
        assert section.bcubed == approx((1.0, 1.0, 1.0))
        assert section.n_predicted_influencers == section.n_true_influencers
        assert not section.wrong_merges and not section.splits
    assert "wrong merges (one predicted id, several people): none" in format_report(report)


def test_evaluate_input_errors() -> None:
    truth = demo_truth()
    with pytest.raises(EvaluationInputError) as info:
        evaluate_assignments(pd.DataFrame({"video_url": []}), truth)
    assert info.value.code == "missing_columns"
    rows = pipeline_rows([("videos/a.mp4", "F-1", "face", "ok")] * 2)
    with pytest.raises(EvaluationInputError) as info:
        evaluate_assignments(rows, truth)
    assert info.value.code == "duplicate_predictions"
    with pytest.raises(EvaluationInputError) as info:  # two truth spellings, two labels
        evaluate_assignments(rows.iloc[:1], truth, normalize=lambda u: "same")
    assert info.value.code == "conflicting_truth"
