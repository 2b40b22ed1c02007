"""How ``merge_margin`` trades recall for precision: demo lakes re-clustered, synthetic sets.

For each margin: face-video BCubed P / R of the demo lakes that ``benchmarks/accuracy.py`` built
(re-clustered as the ``identity_clusters`` asset does, ``faces_accuracy.recluster``; the
development demo chooses, the validation demo is reported), and BCubed P / R of a synthetic set
(``benchmarks/clustering.py``'s generator) at the pipeline's threshold.

    python benchmarks/merge_margin.py --work /tmp/acc [--margins 1.0 1.05 1.1 1.15]
        [--demos development validation default] [--synthetic 10000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clustering import synthetic_embeddings
from faces_accuracy import recluster

from influencer_pipeline.faces.calibration import calibration_for
from influencer_pipeline.identities.clustering import (
    ClusterConfig,
    cluster_identities,
)
from influencer_tools.evaluation.metrics import bcubed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="accuracy.py's --work folder")
    parser.add_argument("--margins", type=float, nargs="+", default=[1.0, 1.05, 1.1, 1.15])
    parser.add_argument("--demos", nargs="+", default=["development", "validation", "default"])
    parser.add_argument("--synthetic", type=int, default=10000, help="videos; 0: none")
    args = parser.parse_args(argv)
    threshold = calibration_for("dlib").identity_threshold
    synthetic = synthetic_embeddings(args.synthetic, 0) if args.synthetic else None
    print(f"identity_threshold {threshold}; BCubed P / R per margin")
    for margin in args.margins:
        cells = []
        for name in args.demos:
            folder = args.work / f"faces_{name}"  # accuracy.py's layout
            scores = recluster(folder / "lake", folder / "demo", threshold, merge_margin=margin)
            p, r, _ = scores["bcubed"]
            cells.append(f"{name} {p:.3f} / {r:.3f}")
        if synthetic is not None:
            ids, x, labels = synthetic
            out = cluster_identities(
                ids, x, ClusterConfig(identity_threshold=threshold, merge_margin=margin)
            )
            pred = dict(zip(out["video_id"], out["cluster_key"], strict=True))
            p, r, _ = bcubed(pred, dict(zip(ids, labels.tolist(), strict=True)))
            cells.append(f"synthetic {args.synthetic} {p:.4f} / {r:.4f}")
        print(f"  {margin:.2f}: " + "; ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
