"""Dagster definitions, one folder per domain; the pure logic lives outside this package."""

import warnings

import dagster as dg

# We rely on APIs Dagster marks beta (backfill policies, dagster-pandas column types) on purpose and
# pin the Dagster version; their warnings would flood every run's log, once per worker process.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
