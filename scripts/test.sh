#!/usr/bin/env bash
# Install everything and run the checks: ruff, then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
.venv/bin/ruff check influencer_pipeline influencer_pipeline_tests benchmarks
.venv/bin/ruff format --check influencer_pipeline influencer_pipeline_tests benchmarks
mkdir -p test-output
.venv/bin/python -m pytest "$@"
