"""Per-influencer statistics and the empirical-Bayes ranking score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from influencer_pipeline.ranking.metrics import (
    RankingInputError,
    observations,
    population_stats,
    rank_influencers,
)


def _videos(spec: dict[str, list[float]], reuploads: dict[str, str] | None = None) -> pd.DataFrame:
    rows = []
    for influencer, scores in spec.items():
        for i, score in enumerate(scores):
            rows.append(
                {
                    "video_id": f"{influencer}-{i}",
                    "influencer_id": influencer,
                    "method": "face",
                    "performance": score,
                    "duplicate_of": None,
                }
            )
    df = pd.DataFrame(rows)
    for video, original in (reuploads or {}).items():
        df.loc[df["video_id"] == video, "duplicate_of"] = original
    return df


def test_plain_statistics_match_numpy() -> None:
    ranked = rank_influencers(_videos({"a": [1.0, 2.0, 3.0, 6.0], "b": [0.5, 0.7]}))
    a = ranked.set_index("influencer_id").loc["a"]
    assert a["n_videos"] == 4
    assert a["mean_performance"] == pytest.approx(3.0)
    assert a["median_performance"] == pytest.approx(2.5)
    assert a["std_performance"] == pytest.approx(np.std([1, 2, 3, 6], ddof=1))
    assert (a["min_performance"], a["max_performance"]) == (1.0, 6.0)
    half = 3.182446305284263 * np.std([1, 2, 3, 6], ddof=1) / 2  # t(0.975, 3) * s / sqrt(4)
    assert (a["ci_low"], a["ci_high"]) == pytest.approx((3.0 - half, 3.0 + half))


def test_empirical_bayes_formula_by_hand() -> None:
    spec = {"a": [1.0, 3.0], "b": [4.0, 6.0], "c": [9.0]}
    pop = population_stats(observations(_videos(spec)))
    # overall mean of the 5 scores; pooled within variance ((1+1) + (1+1)) / (4 - 2) = 2
    assert pop.overall_mean == pytest.approx(23 / 5)
    assert pop.within_variance == pytest.approx(2.0)
    means, n = np.array([2.0, 5.0, 9.0]), np.array([2, 2, 1])
    own = np.array([2.0, 2.0, 0.0])  # each influencer's sample variance (none for one video)
    moderated = (4 * 2.0 + (n - 1) * own) / (4 + n - 1)  # PRIOR_DF = 4
    w = n / moderated  # DerSimonian-Laird: precision weights
    q = np.sum(w * (means - np.sum(w * means) / w.sum()) ** 2)
    tau2 = (q - 2) / (w.sum() - np.sum(w**2) / w.sum())
    assert pop.between_variance == pytest.approx(tau2)
    ranked = rank_influencers(_videos(spec)).set_index("influencer_id")
    b_c = (2.0 / 1) / (2.0 / 1 + tau2)
    assert ranked.loc["c", "shrinkage"] == pytest.approx(b_c)
    assert ranked.loc["c", "score"] == pytest.approx(23 / 5 + (1 - b_c) * (9.0 - 23 / 5))


def _lucky_and_steady(n_others: int = 30) -> dict[str, list[float]]:
    """A steady influencer (8 videos, mean 1.6, sd 0.1), one whose single video scored 2.3 (the
    best score of all) and others with means spread over 0.7-1.3 and a per-video sd of 0.4."""
    offsets = [-0.55, -0.2, 0.2, 0.55]
    others = {
        f"other{i}": [0.7 + 0.6 * i / (n_others - 1) + d for d in offsets] for i in range(n_others)
    }
    steady = [1.6 + d for d in (-0.15, -0.1, -0.05, 0.0, 0.0, 0.05, 0.1, 0.15)]
    return {"steady": steady, "lucky": [2.3], **others}


def test_one_lucky_video_does_not_outrank_a_steady_performer() -> None:
    spec = _lucky_and_steady()
    ranked = rank_influencers(_videos(spec))
    by_id = ranked.set_index("influencer_id")
    assert by_id.loc["lucky", "mean_performance"] > by_id.loc["steady", "mean_performance"]
    assert ranked.iloc[0]["influencer_id"] == "steady"
    assert by_id.loc["lucky", "shrinkage"] > 0.5
    assert by_id.loc["steady", "shrinkage"] < by_id.loc["lucky", "shrinkage"] / 3
    assert not by_id.loc["lucky", "consistently_above_average"]  # one video never is
    assert by_id.loc["steady", "consistently_above_average"]
    assert ranked["rank"].tolist() == list(range(1, len(spec) + 1))


def test_more_agreeing_videos_mean_less_shrinkage() -> None:
    base = _lucky_and_steady()
    shrink = []
    for n in (1, 2, 4, 8):
        spec = {**base, "probe": [1.8 + 0.05 * ((-1) ** i) for i in range(n)]}
        shrink.append(
            rank_influencers(_videos(spec)).set_index("influencer_id").loc["probe", "shrinkage"]
        )
    assert shrink == sorted(shrink, reverse=True) and shrink[0] > 2 * shrink[-1]


def test_reuploads_count_each_post_or_the_original_once() -> None:
    spec = {"a": [1.0, 2.0, 3.0], "b": [1.0, 1.0]}
    videos = _videos(spec, reuploads={"a-1": "a-0"})  # a-1 re-uploads a-0
    each = rank_influencers(videos, "each_post").set_index("influencer_id")
    once = rank_influencers(videos, "canonical_once").set_index("influencer_id")
    assert each.loc["a", "n_videos"] == 3
    assert (each.loc["a", "n_uploads"], each.loc["a", "n_reuploads"]) == (2, 1)
    assert once.loc["a", "n_videos"] == 2
    assert once.loc["a", "mean_performance"] == pytest.approx((1.5 + 3.0) / 2)
    assert sorted(once.loc["a", "video_ids"]) == ["a-0", "a-1", "a-2"]


def test_consistency_is_the_share_of_videos_above_the_overall_mean() -> None:
    ranked = rank_influencers(_videos({"a": [1.0, 5.0, 5.0, 5.0], "b": [1.0, 1.0]}))
    # overall mean 3.0: a has 3 of 4 videos above it, b none
    assert ranked.set_index("influencer_id")["consistency"].to_dict() == {"a": 0.75, "b": 0.0}


def test_bad_input_is_refused() -> None:
    videos = _videos({"a": [1.0]})
    with pytest.raises(RankingInputError, match="finite"):
        rank_influencers(videos.assign(performance=[float("inf")]))
    with pytest.raises(RankingInputError, match="influencer_id"):
        rank_influencers(videos.assign(influencer_id=[None]))
    with pytest.raises(RankingInputError, match="count"):
        rank_influencers(videos, "every_other")  # type: ignore[arg-type]
    assert rank_influencers(videos.iloc[0:0]).empty


# --- small or homogeneous sheets (issue 14, item 5) -------------------------------------------

EIGHT_VIDEOS = {"A": [0.2, 0.7, 0.45], "B": [0.6], "C": [0.3, 0.7], "D": [0.55, 0.45]}


def test_eight_videos_rank_by_the_evidence_not_by_counts() -> None:
    """Before: tau^2 = 0, every score 0.49375 with a zero-width interval, A (mean 0.45, 3 videos)
    ranked first and B (mean 0.60) last, by video count."""
    videos = _videos(EIGHT_VIDEOS)
    pop = population_stats(observations(videos))
    sigma2 = ((0.2 - 0.45) ** 2 + (0.7 - 0.45) ** 2 + 0 + 2 * 0.2**2 + 2 * 0.05**2) / (7 - 3)
    assert pop.within_variance == pytest.approx(sigma2)  # 0.0525
    assert pop.between_variance_estimate == 0.0  # DerSimonian-Laird says "identical"
    assert pop.between_variance == pytest.approx(0.1 * sigma2)  # the floor
    ranked = rank_influencers(videos).set_index("influencer_id")
    assert ranked.loc["B", "rank"] < ranked.loc["A", "rank"]  # 0.60 above 0.45
    assert ranked["score"].nunique() == 4
    assert (ranked["score_high"] - ranked["score_low"] > 0.1).all()  # honest, wide intervals
    assert (ranked["shrinkage"] < 1).all()
    n = np.array([3, 1, 2, 2])
    own = np.array([np.var(v, ddof=1) if len(v) > 1 else 0.0 for v in EIGHT_VIDEOS.values()])
    noise = (4 * sigma2 + (n - 1) * own) / (4 + n - 1) / n
    b = noise / (noise + 0.1 * sigma2)
    means = np.array([np.mean(v) for v in EIGHT_VIDEOS.values()])
    mu = np.mean([x for v in EIGHT_VIDEOS.values() for x in v])
    expected = mu + (1 - b) * (means - mu)
    assert ranked.loc[list(EIGHT_VIDEOS), "score"].to_numpy() == pytest.approx(expected)
    w = 1 / noise
    q = np.sum(w * (means - np.sum(w * means) / w.sum()) ** 2)
    p_value = 1 - stats.chi2.cdf(q, 3)
    assert ranked["heterogeneity_p"].iloc[0] == pytest.approx(p_value)
    assert p_value > 0.05 and not ranked["distinguishable"].any()


@pytest.mark.parametrize("seed", range(40))
def test_small_sheets_never_collapse(seed: int) -> None:
    """Random small sheets of 2-6 influencers, 1-4 videos each, no real difference between them:
    every score differs from the overall mean, every interval has a width, and influencers with
    the same number of videos and the same spread rank by their mean."""
    rng = np.random.default_rng(seed)
    spec = {
        f"i{k}": list(np.round(rng.normal(0.5, 0.1, rng.integers(1, 5)), 4))
        for k in range(rng.integers(2, 7))
    }
    ranked = rank_influencers(_videos(spec))
    assert (ranked["shrinkage"] < 1).all()
    assert (ranked["score_high"] > ranked["score_low"]).all()
    singles = ranked[ranked["n_videos"] == 1].sort_values("rank")
    assert singles["mean_performance"].is_monotonic_decreasing


def test_identical_scores_tie_with_zero_width() -> None:
    """When every video scored the same the data do say the influencers tie."""
    ranked = rank_influencers(_videos({"a": [0.5, 0.5], "b": [0.5], "c": [0.5, 0.5, 0.5]}))
    assert (ranked["score"] == 0.5).all() and (ranked["score_high"] == ranked["score_low"]).all()


def test_real_heterogeneity_is_the_data_s_and_distinguishable() -> None:
    spec = _lucky_and_steady()
    pop = population_stats(observations(_videos(spec)))
    assert pop.between_variance == pop.between_variance_estimate > 0.1 * pop.within_variance
    assert pop.distinguishable and pop.heterogeneity_p < 0.05
