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
# Throwaway servers for the tests that need them, stopped when the tests end (`--stop` does
# nothing for a server that is not running).
trap './scripts/start_test_postgres.sh --stop || true; ./scripts/start_test_redis.sh --stop || true' EXIT
# A throwaway PostgreSQL server (Debian's postgresql) for the PostgreSQL-backed Dagster instance
# tests. Without it those tests skip, except in CI (STRICT_SYSTEM_DEPS=1).
if pg_env="$(./scripts/start_test_postgres.sh)"; then
  eval "$pg_env"
elif [ "${STRICT_SYSTEM_DEPS:-0}" = "1" ]; then
  exit 1
else
  echo "warning: PostgreSQL unavailable; the PostgreSQL instance tests will skip"
fi
# A throwaway Redis server (Debian's redis-server): the Celery broker and result backend of the
# celery executor tests (INFLUENCER_CELERY_BROKER/BACKEND). Without it they skip, except in CI.
if redis_env="$(./scripts/start_test_redis.sh)"; then
  eval "$redis_env"
elif [ "${STRICT_SYSTEM_DEPS:-0}" = "1" ]; then
  exit 1
else
  echo "warning: Redis unavailable; the celery executor tests will skip"
fi
.venv/bin/ruff check influencer_pipeline influencer_tools influencer_pipeline_tests benchmarks
.venv/bin/ruff format --check influencer_pipeline influencer_tools influencer_pipeline_tests benchmarks
# Known vulnerabilities in the locked dependencies (pip-audit). A finding outside
# audit-allowlist.txt fails; where the registry does not serve pip-audit's per-version data (this
# CI's mirror), the audit says so loudly and the tests go on.
AUDIT_UNREACHABLE="${AUDIT_UNREACHABLE:-warn}" ./scripts/audit_dependencies.sh
mkdir -p test-output
# the slowest tests, for keeping the suite short
.venv/bin/python -m pytest --durations=30 "$@"
