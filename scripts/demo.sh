#!/usr/bin/env bash
# Install everything, generate the demo data set and run the whole pipeline on it through Dagster.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
.venv/bin/influencer-pipeline demo --out demo_data
.venv/bin/influencer-pipeline run --input demo_data/demo_sheet.xlsx --embedder dlib
.venv/bin/influencer-pipeline evaluate --truth demo_data/truth.csv
.venv/bin/influencer-pipeline report --out reports
echo "Leaderboard: reports/leaderboard.html   Dagster UI: .venv/bin/influencer-pipeline ui"
