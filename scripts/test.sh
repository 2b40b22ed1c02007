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
# A throwaway PostgreSQL server (Debian's postgresql) for the PostgreSQL-backed Dagster instance
# test, stopped when the tests end. Without it that test skips, except in CI (STRICT_SYSTEM_DEPS=1).
if pg_env="$(./scripts/start_test_postgres.sh)"; then
  eval "$pg_env"
  trap './scripts/start_test_postgres.sh --stop || true' EXIT
elif [ "${STRICT_SYSTEM_DEPS:-0}" = "1" ]; then
  exit 1
else
  echo "warning: PostgreSQL unavailable; the PostgreSQL instance test will skip"
fi
.venv/bin/ruff check influencer_pipeline influencer_pipeline_tests benchmarks
.venv/bin/ruff format --check influencer_pipeline influencer_pipeline_tests benchmarks
# Known vulnerabilities in the locked dependencies (pip-audit). A finding outside
# audit-allowlist.txt fails; where the registry does not serve pip-audit's per-version data (this
# CI's mirror), the audit says so loudly and the tests go on.
AUDIT_UNREACHABLE="${AUDIT_UNREACHABLE:-warn}" ./scripts/audit_dependencies.sh
mkdir -p test-output
.venv/bin/python -m pytest "$@"
