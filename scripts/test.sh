#!/usr/bin/env bash
# Install everything and run the checks: ruff, then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
# Debian's chromium for the browser tests (leaderboard, Dagster UI). Without root they are skipped,
# except in CI (STRICT_SYSTEM_DEPS=1, set by .ci/run), where a missing package is an error.
if ! ./scripts/install_system_deps.sh; then
  if [ "${STRICT_SYSTEM_DEPS:-0}" = "1" ]; then exit 1; fi
  echo "warning: system packages missing; browser tests will skip"
fi
.venv/bin/ruff check influencer_pipeline influencer_pipeline_tests benchmarks
.venv/bin/ruff format --check influencer_pipeline influencer_pipeline_tests benchmarks
mkdir -p test-output
.venv/bin/python -m pytest "$@"
