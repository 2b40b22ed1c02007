"""Scale of outro grouping: what the ``outro_groups`` asset computes, on synthetic fingerprints.

    python benchmarks/outro_grouping.py --sizes 1000 10000 100000

Every size runs in a fresh subprocess, so its peak memory (``VmHWM``, the whole process) is its
own; the resident memory before grouping is printed for reference.

Timed: ``group_outros`` (LSH candidates, leader pass, medoid refinement, merge), then the stable
ids (``assign_stable_ids``) on a first run and on a rerun with the first run's ids as previous.
Scores: BCubed and pairwise precision/recall/F against the generating cards, wrong merges.

Fingerprints (``synthetic_fingerprints``) are perturbed real card signatures: ``card_signature``
(the project's content-box pHash-256 + 8 x 8 Lab grid) of outro cards rendered with the demo's
``render_card`` from random designs (brand, layout, palette, logo, button, tagline; designs the
grouping rule cannot tell apart are drawn again). Cards per
video follow the people sizes of ``benchmarks/clustering.py`` (30 % one-video cards, 2-20 video
cards, a few large). A design used more than once becomes another card by flipping 96-128 of its
256 bits and moving every Lab cell by N(0, 8) (unrelated real cards are >= 86 bits and >= 16.6
delta E apart); one card in 20 is a recoloured look-alike of an earlier card (same bits, 12 of
the 64 cells moved by 14-20 delta E: the same layout in another colour, which the rule must keep
apart). Each video of a card flips min(24, round(|N(0, 8)|)) bits and adds N(0, 0.7) to every Lab
component (measured same-card spread after re-encoding, resizing, cropping, trimming: <= 24
bits, p99 20; p99 3.0 delta E; see influencer_pipeline/outro/grouping.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from clustering import Calibration, _peak_rss_mib, cluster_sizes
from identity_scale import scores
from proctree import run_json_subprocess

from influencer_pipeline.identities.stable_ids import assign_stable_ids
from influencer_pipeline.outro.fingerprint import (
    CardSignature,
    OutroFingerprint,
    bits_to_hex,
    card_signature,
    colour_delta_e,
)
from influencer_pipeline.outro.grouping import GroupingConfig, group_outros
from influencer_tools.demo.outros import (
    LAYOUTS,
    LOGOS,
    PALETTES,
    creator_designs,
    render_card,
    shared_brand_card,
)


def render_signatures(n_designs: int, seed: int) -> list[CardSignature]:
    """Card signatures of ``n_designs`` distinct random demo outro designs rendered at 360 x 640.

    Random designs can repeat (or differ only in what the fingerprint cannot see), so a design
    is kept only when the grouping rule would tell it apart from every design kept before.
    """
    rng = np.random.default_rng(seed)
    config = GroupingConfig()
    kept = [card_signature(render_card(shared_brand_card(), (360, 640)))]
    while len(kept) < n_designs:
        for base in creator_designs(rng, 10, lookalike=False):
            background, accent, text = PALETTES[int(rng.integers(len(PALETTES)))]
            design = replace(
                base,
                layout=LAYOUTS[int(rng.integers(len(LAYOUTS)))],
                logo=LOGOS[int(rng.integers(len(LOGOS)))],
                background=background,
                accent=accent,
                text=text,
            )
            signature = card_signature(render_card(design, (360, 640)))
            if all(
                np.count_nonzero(signature.bits != other.bits) > config.max_phash_bits
                or colour_delta_e(signature.lab - other.lab) > config.max_colour_delta_e
                for other in kept
            ):
                kept.append(signature)
    return kept[:n_designs]


def _templates(
    n_cards: int, bases: list[CardSignature], rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(bits, Lab grid) of every card; see the module docstring."""
    templates: list[tuple[np.ndarray, np.ndarray]] = []
    for k in range(n_cards):
        if templates and rng.random() < 0.05:
            bits, lab = templates[int(rng.integers(len(templates)))]
            lab = lab.copy()
            cells = rng.choice(len(lab), 12, replace=False)
            direction = rng.normal(size=(12, 3))
            direction /= np.linalg.norm(direction, axis=1, keepdims=True)
            lab[cells] += direction * rng.uniform(14, 20, size=(12, 1))
        else:
            base = bases[k % len(bases)]
            bits, lab = base.bits.copy(), base.lab.astype(np.float64)
            if k >= len(bases):
                flip = rng.choice(bits.size, int(rng.integers(96, 129)), replace=False)
                bits[flip] = ~bits[flip]
                lab = lab + rng.normal(0, 8, size=lab.shape)
        templates.append((bits, lab))
    return templates


def synthetic_fingerprints(
    n: int, seed: int = 0, n_designs: int = 60
) -> tuple[dict[str, OutroFingerprint], dict[str, int]]:
    """``n`` outro fingerprints (video id -> fingerprint) and the true card of every video."""
    rng = np.random.default_rng(seed)
    sizes = cluster_sizes(n, rng, Calibration())
    templates = _templates(len(sizes), render_signatures(n_designs, seed), rng)
    order = rng.permutation(n)
    prints: dict[str, OutroFingerprint] = {}
    truth: dict[str, int] = {}
    video = 0
    for card, size in enumerate(sizes):
        bits, lab = templates[card]
        for _ in range(size):
            video_id = f"v{order[video]:07d}"
            video += 1
            own = bits.copy()
            k = min(24, round(abs(rng.normal(0, 8))))
            if k:
                flip = rng.choice(own.size, k, replace=False)
                own[flip] = ~own[flip]
            own_lab = lab + rng.normal(0, 0.7, size=lab.shape)
            phash = bits_to_hex(own)
            prints[video_id] = OutroFingerprint(
                video_id=video_id,
                phash=phash,
                colour_lab=tuple(float(v) for v in own_lab.reshape(-1)),
                hash_size=16,
                colour_grid=8,
                frame_indices=(0,),
                timestamps_s=(0.0,),
                frame_phashes=(phash,),
                representative=b"",
            )
            truth[video_id] = card
    return prints, truth


def outro_one(n: int, seed: int) -> dict[str, object]:
    """The outro_groups computation on ``n`` synthetic fingerprints, timed and scored."""
    clock = time.perf_counter()
    prints, truth = synthetic_fingerprints(n, seed)
    make_s = time.perf_counter() - clock
    rss_before = _peak_rss_mib()
    clock = time.perf_counter()
    groups = group_outros(prints)
    group_s = time.perf_counter() - clock
    keyed = groups[["video_id", "group_key"]].rename(columns={"group_key": "cluster_key"})
    clock = time.perf_counter()
    first = assign_stable_ids(keyed, None, "O-")
    first_s = time.perf_counter() - clock
    clock = time.perf_counter()
    assign_stable_ids(keyed, first[["video_id", "influencer_id"]], "O-")
    rerun_s = time.perf_counter() - clock
    pred = dict(zip(groups["video_id"], groups["group_key"], strict=True))
    return {
        "stage": "outro_groups",
        "videos": n,
        "cards": len(set(truth.values())),
        "groups": int(groups["group_key"].nunique()),
        "generate_s": round(make_s, 2),
        "group_s": round(group_s, 2),
        "stable_ids_first_s": round(first_s, 2),
        "stable_ids_rerun_s": round(rerun_s, 2),
        "total_s": round(group_s + max(first_s, rerun_s), 2),
        "peak_rss_mib": round(_peak_rss_mib()),
        "rss_before_mib": round(rss_before),
        **scores(pred, truth),
    }


def run_sizes(sizes: list[int], seed: int, timeout_s: float) -> list[dict[str, object]]:
    """Every size in its own subprocess; one result dict each (printed as it ends)."""
    results = []
    for size in sizes:
        command = [sys.executable, str(Path(__file__).resolve()), "--one", str(size)]
        command += ["--seed", str(seed)]
        result = run_json_subprocess(command, timeout_s, {"stage": "outro_groups", "videos": size})
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> None:
    """Parse arguments; run one size here (--one) or every size in subprocesses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per subprocess")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(outro_one(args.one, args.seed)))
        return
    run_sizes(args.sizes, args.seed, args.timeout)


if __name__ == "__main__":
    main()
