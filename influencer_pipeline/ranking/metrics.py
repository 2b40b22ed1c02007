"""Per-influencer performance statistics and an uncertainty-aware ranking score.

The score is an empirical-Bayes shrunk mean (a normal-normal hierarchical model whose variances are
estimated from the data):

    y_ij ~ N(theta_i, sigma^2)        the j-th video of influencer i
    theta_i ~ N(mu, tau^2)            influencers' true means around the overall mean

* ``mu`` is the mean of all videos' scores.
* ``sigma^2`` (within-influencer variance) is pooled over influencers with at least two videos:
  sum_i sum_j (y_ij - ybar_i)^2 / (N_2 - k_2); with no such influencer it falls back to the
  variance of all scores (the most conservative choice).
* Each influencer's own noise ``s_i^2`` is *moderated* toward the pooled one (a scaled
  inverse-chi-square prior with ``PRIOR_DF`` degrees of freedom, as in limma's moderated
  variances): ``s_i^2 = (PRIOR_DF sigma^2 + (n_i - 1) var_i) / (PRIOR_DF + n_i - 1)``, so a single
  video carries the pooled noise, and a performer whose many videos agree is trusted more than
  one whose videos scatter: consistency itself is evidence.
* ``tau^2`` (between-influencer variance) is the precision-weighted method-of-moments estimate
  of DerSimonian and Laird: with weights ``w_i = n_i / s_i^2`` and ``ybar_w`` their weighted
  mean, ``Q = sum_i w_i (ybar_i - ybar_w)^2`` and
  ``tau^2_DL = max(0, (Q - (k - 1)) / (sum w_i - sum w_i^2 / sum w_i))``. Weighting by precision
  keeps a single lucky video from inflating the between-influencer variance, which an unweighted
  variance of the means would do, weakening the very shrinkage it needs.
* **Floor on tau^2.** The estimate used is ``tau^2 = max(tau^2_DL, TAU2_FLOOR_SHARE * sigma^2)``
  (k >= 2). Without a floor, small or homogeneous sheets collapse: ``tau^2_DL`` is exactly 0
  whenever ``Q <= k - 1``, which with a handful of influencers happens about half the time even
  when they do differ; then every ``B_i = 1``, every score is the overall mean with a zero-width
  interval, and the order is decided by the tie-breakers (video counts and ids: on an 8-video
  sheet a 0.45 mean ranked above a 0.60 mean). A variance of exactly 0 says "all influencers are
  identical", which is never what a ranking assumes and which the data cannot prove. The floor
  is a weak assumption: true influencer means differ by at least ``sqrt(0.1) ~ 0.32`` of one
  video's noise (an intra-class correlation of at least 9 %, modest for creator effects). It is
  a lower bound only: whenever the data show more heterogeneity, the estimate is the data's
  (the 54-video demo: ``tau^2_DL`` = 0.211, floor 0.015, so nothing changes there). With the
  floor every ``B_i`` is below 1, so the score orders by the evidence - the own mean, trusted
  more the more (and the more consistent) the videos - and the interval has a width whenever a
  video's noise is positive (all scores identical: the data say every influencer ties, width 0).
  The 8-video example: before, all four scores 0.494 [0.494, 0.494], the 0.45 mean (3 videos)
  first and the 0.60 mean (1 video) last; now 0.60 first (0.503 [0.368, 0.639]) and 0.45 last
  (0.484 [0.359, 0.610]).
* **Can the data tell influencers apart?** Cochran's test of homogeneity: under "all true means
  equal", ``Q`` follows chi^2 with ``k - 1`` degrees of freedom; ``heterogeneity_p`` is its
  p-value and ``distinguishable`` is ``p < 0.05`` (false for fewer than two influencers). The
  report says so in a banner when they cannot be told apart: the order is then the best guess
  from little evidence, not a finding.
* Shrinkage ``B_i = (s_i^2/n_i) / (s_i^2/n_i + tau^2)`` and the score
  ``theta_hat_i = mu + (1 - B_i) (ybar_i - mu)``: an influencer with one lucky video is pulled
  toward the overall mean (the more, the noisier single videos are compared with how much
  influencers really differ), one with many consistent videos keeps nearly its own mean. Its
  posterior standard deviation ``sqrt((1 - B_i) s_i^2 / n_i)`` gives ``score_low`` and
  ``score_high`` (95 %); with fewer than two influencers nothing is shrunk.

Alongside: the raw mean, median, sample standard deviation, min, max, a 95 % Student-t confidence
interval of the mean (null for a single video), ``consistency`` (the share of the influencer's
videos that beat the overall mean) and ``consistently_above_average`` (the confidence interval of
the mean lies entirely above the overall mean; never true for one video).

Re-uploads: with ``count="each_post"`` (default) every post in the sheet is one observation (each
post is its own placement with its own measured performance); with ``count="canonical_once"`` a
video and its re-uploads form one observation, the mean of their posts' scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from influencer_pipeline.errors import InputError

CountMode = Literal["each_post", "canonical_once"]
Z_95 = 1.959963984540054
PRIOR_DF = 4.0  # weight of the pooled variance in each influencer's moderated variance
TAU2_FLOOR_SHARE = 0.1  # tau^2 >= this share of the within variance (see the module docstring)
HETEROGENEITY_ALPHA = 0.05  # Cochran's Q test: influencers distinguishable when p < this

RANK_COLUMNS = [
    "rank",
    "influencer_id",
    "method",
    "n_videos",
    "n_uploads",
    "n_reuploads",
    "mean_performance",
    "median_performance",
    "std_performance",
    "min_performance",
    "max_performance",
    "ci_low",
    "ci_high",
    "score",
    "score_low",
    "score_high",
    "shrinkage",
    "consistency",
    "consistently_above_average",
    "distinguishable",
    "heterogeneity_p",
    "video_ids",
]


class RankingInputError(InputError):
    """Input the ranking refuses, with a machine-readable ``code``."""


@dataclass(frozen=True)
class PopulationStats:
    """The estimates shared by every influencer's score."""

    overall_mean: float
    within_variance: float  # sigma^2
    between_variance: float  # tau^2 used: the DerSimonian-Laird estimate, at least the floor
    n_influencers: int
    n_observations: int
    between_variance_estimate: float = 0.0  # tau^2_DL before the floor
    heterogeneity_p: float = float("nan")  # Cochran's Q test; NaN for fewer than 2 influencers

    @property
    def distinguishable(self) -> bool:
        """Whether the data tell influencers apart (Cochran's Q test at HETEROGENEITY_ALPHA)."""
        p_value = self.heterogeneity_p
        return bool(np.isfinite(p_value) and p_value < HETEROGENEITY_ALPHA)


def observations(videos: pd.DataFrame, count: CountMode = "each_post") -> pd.DataFrame:
    """One row per observation: influencer_id, method, performance, video_ids, n_posts, is_reupload.

    ``videos``: ok rows of ``video_influencers`` (video_id, influencer_id, method, performance,
    duplicate_of).
    """
    needed = {"video_id", "influencer_id", "method", "performance", "duplicate_of"}
    missing = needed - set(videos.columns)
    if missing:
        raise RankingInputError("missing_columns", f"videos lack column(s) {sorted(missing)}")
    if videos["influencer_id"].isna().any():
        raise RankingInputError("missing_influencer", "every ranked video needs an influencer_id")
    perf = pd.to_numeric(videos["performance"], errors="coerce")
    if not np.isfinite(perf).all():
        raise RankingInputError("bad_performance", "performance must be finite for every video")
    data = videos.assign(
        performance=perf.astype(float),
        upload=videos["duplicate_of"].where(videos["duplicate_of"].notna(), videos["video_id"]),
    )
    if count == "each_post":
        return pd.DataFrame(
            {
                "influencer_id": data["influencer_id"],
                "method": data["method"],
                "performance": data["performance"],
                "video_ids": data["video_id"].map(lambda v: [v]),
                "upload": data["upload"],
                "n_posts": 1,
            }
        ).reset_index(drop=True)
    if count == "canonical_once":
        grouped = data.groupby(["influencer_id", "upload"], sort=True)
        return pd.DataFrame(
            {
                "influencer_id": grouped["influencer_id"].first(),
                "method": grouped["method"].first(),
                "performance": grouped["performance"].mean(),
                "video_ids": grouped["video_id"].apply(sorted),
                "upload": grouped["upload"].first(),
                "n_posts": grouped.size(),
            }
        ).reset_index(drop=True)
    raise RankingInputError("bad_count_mode", f"count must be each_post or canonical_once: {count}")


def moderated_variances(variances: pd.Series, n: pd.Series, pooled: float) -> pd.Series:
    """Each influencer's variance moderated toward the pooled one (see the module docstring)."""
    return (PRIOR_DF * pooled + (n - 1) * variances) / (PRIOR_DF + n - 1)


def population_stats(obs: pd.DataFrame) -> PopulationStats:
    """Overall mean, pooled within variance and between variance (see the module docstring)."""
    y = obs["performance"].to_numpy(float)
    groups = obs.groupby("influencer_id")["performance"]
    n_i, mean_i = groups.size(), groups.mean()
    multi = n_i[n_i >= 2].index
    dof = int(n_i[multi].sum() - len(multi))
    if dof > 0:
        ss = float(
            ((obs["performance"] - obs["influencer_id"].map(mean_i)) ** 2)[
                obs["influencer_id"].isin(multi)
            ].sum()
        )
        sigma2 = ss / dof
    else:
        sigma2 = float(np.var(y, ddof=1)) if len(y) > 1 else 0.0
    k = len(n_i)
    tau2_dl, p_value = 0.0, float("nan")
    noise = moderated_variances(groups.var(ddof=1).fillna(0.0), n_i, sigma2) / n_i
    if k >= 2 and (noise > 0).all():
        w = 1.0 / noise.to_numpy(float)
        means = mean_i.to_numpy(float)
        q = float(np.sum(w * (means - np.sum(w * means) / w.sum()) ** 2))
        tau2_dl = max(0.0, (q - (k - 1)) / float(w.sum() - np.sum(w**2) / w.sum()))
        p_value = float(stats.chi2.sf(q, k - 1))
    elif k >= 2:  # every influencer's noise is 0: all scores agree within influencers
        spread = float(np.ptp(mean_i.to_numpy(float)))
        p_value = 0.0 if spread > 0 else 1.0
    tau2 = max(tau2_dl, TAU2_FLOOR_SHARE * sigma2) if k >= 2 else 0.0
    return PopulationStats(float(np.mean(y)), sigma2, tau2, k, len(y), tau2_dl, p_value)


def rank_influencers(videos: pd.DataFrame, count: CountMode = "each_post") -> pd.DataFrame:
    """One row per influencer with the statistics and rank (1 is best) described above."""
    obs = observations(videos, count)
    if obs.empty:
        return pd.DataFrame(columns=RANK_COLUMNS)
    pop = population_stats(obs)
    rows = []
    for influencer_id, group in obs.groupby("influencer_id", sort=True):
        y = group["performance"].to_numpy(float)
        n = len(y)
        mean = float(y.mean())
        std = float(y.std(ddof=1)) if n >= 2 else float("nan")
        if n >= 2:
            half = float(stats.t.ppf(0.975, n - 1)) * std / np.sqrt(n)
            ci_low, ci_high = mean - half, mean + half
        else:
            ci_low = ci_high = float("nan")
        own = float(y.var(ddof=1)) if n >= 2 else 0.0
        noise = (
            float(
                moderated_variances(pd.Series([own]), pd.Series([n]), pop.within_variance).iloc[0]
            )
            / n
        )
        if pop.n_influencers >= 2 and pop.between_variance + noise > 0:
            shrinkage = noise / (noise + pop.between_variance)
        else:
            shrinkage = 0.0
        score = pop.overall_mean + (1.0 - shrinkage) * (mean - pop.overall_mean)
        posterior_sd = float(np.sqrt((1.0 - shrinkage) * noise)) if shrinkage < 1 else 0.0
        video_ids = sorted(v for ids in group["video_ids"] for v in ids)
        uploads = group["upload"].nunique()
        rows.append(
            {
                "influencer_id": influencer_id,
                "method": group["method"].iloc[0],
                "n_videos": n,
                "n_uploads": int(uploads),
                "n_reuploads": len(video_ids) - int(uploads),
                "mean_performance": mean,
                "median_performance": float(np.median(y)),
                "std_performance": std,
                "min_performance": float(y.min()),
                "max_performance": float(y.max()),
                "ci_low": ci_low,
                "ci_high": ci_high,
                "score": score,
                "score_low": score - Z_95 * posterior_sd,
                "score_high": score + Z_95 * posterior_sd,
                "shrinkage": shrinkage,
                "consistency": float((y > pop.overall_mean).mean()),
                "consistently_above_average": bool(n >= 2 and ci_low > pop.overall_mean),
                "distinguishable": pop.distinguishable,
                "heterogeneity_p": pop.heterogeneity_p,
                "video_ids": video_ids,
            }
        )
    ranked = pd.DataFrame(rows).sort_values(
        ["score", "n_videos", "influencer_id"], ascending=[False, False, True]
    )
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked[RANK_COLUMNS].reset_index(drop=True)
