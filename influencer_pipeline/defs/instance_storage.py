"""Dagster's SQLite event log with its connections kept open (``PooledSqliteEventLogStorage``).

Dagster's ``SqliteEventLogStorage`` builds a SQLAlchemy engine and opens a new SQLite connection
for every statement group (``NullPool``): an asset materialization opens the run's shard and the
index shard twice, ~8 ms of CPU per event here, and a 157-video run writes ~2,400 events
(planned and done materializations and check results for every partition), one at a time in the
step's thread. This subclass keeps one engine per shard (the index and the last few runs), each
holding one connection that is used under the storage's own lock, as Dagster's code uses a
connection: ~2.4 ms an event. Dagster also asks whether a table exists before every tagged
materialization and check result, with a new engine each time (0.5 ms alone; 1.9 s of the
steps' thread in a 157-video run under py-spy); a table found is remembered until
``wipe``. The files, schema, transactions and the other processes sharing them (the daemon,
the UI, run workers) are Dagster's own; SQLite locks per file, not per connection, and
``wipe`` closes what it is about to delete.

Dagster hands a run's planned materializations and a step's materializations to
``store_event_batch`` when ``$DAGSTER_EVENT_BATCH_SIZE`` is set; its SQLite storage then stores
them one by one. Here a batch is one transaction per shard (a 157-video step: 157
materializations, one commit per file instead of two each), so the storage sets that variable
in its process unless the user has (``0`` turns batches off). A batch that fails keeps nothing,
and Dagster stores its events one by one. The ``asset_keys`` columns Dagster reads before
every asset event are remembered like the tables.

The instance's ``dagster.yaml`` names it (``deploy/dagster.sqlite.yaml``); without ``base_dir``
it stores where Dagster's default does, ``$DAGSTER_HOME/history/runs``.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

OPEN_SHARDS = 4  # the index shard and the runs being written (a run writes only its own)
EVENT_BATCH_ENV = "DAGSTER_EVENT_BATCH_SIZE"  # Dagster's switch for batched asset events
EVENT_BATCH_SIZE = 1000  # events per batch: a 157-video step's materializations in one


def event_log_dir(home: str | os.PathLike[str]) -> str:
    """Where Dagster's default SQLite event log lives in a DAGSTER_HOME: ``history/runs``."""
    return os.path.join(os.path.expanduser(os.fspath(home)), "history", "runs")


def default_base_dir() -> str:
    """``event_log_dir`` of ``$DAGSTER_HOME``."""
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if not home:
        raise dg.DagsterInvariantViolationError(
            "PooledSqliteEventLogStorage needs `base_dir` in its config or $DAGSTER_HOME set"
        )
    return event_log_dir(home)


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` that reuses one open connection per shard."""

    def __init__(self, base_dir: str | None = None, inst_data: Any = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables: set[str] = set()  # tables seen in the index shard (none is ever dropped)
        self._asset_key_columns: set[str] = set()  # columns seen in the asset_keys table
        self._batch = threading.local()  # .conns: a batch's open connection per shard
        # Dagster writes a step's or a run's asset events as one batch only when this is set
        # (it reads the variable at each event); this storage writes a batch in one transaction
        os.environ.setdefault(EVENT_BATCH_ENV, str(EVENT_BATCH_SIZE))
        super().__init__(base_dir or default_base_dir(), inst_data=inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: Any, config_value: Mapping[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(base_dir=config_value.get("base_dir"), inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine (one connection, reused), created and initialized on first use."""
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=StaticPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > OPEN_SHARDS:
                self._engines.popitem(last=False)[1].dispose()
        self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        batch = getattr(self._batch, "conns", None)
        if batch is not None:  # within store_event_batch, which holds the lock
            if shard not in batch:
                batch[shard] = self._engine(shard).connect()
                batch[shard].begin()
            yield batch[shard]
            return
        # a plain lock: one user of a shard's connection at a time
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store ``events`` as ``store_event`` does, in one transaction per shard; nothing of
        the batch is kept when one fails (Dagster then stores them one by one)."""
        with self._db_lock:
            self._batch.conns = batch = {}
            try:
                for event in events:
                    self.store_event(event)
                for conn in batch.values():  # the run's shard first: the index mirrors it
                    conn.commit()
            finally:
                self._batch.conns = None
                for conn in batch.values():
                    conn.close()  # rolls back what was not committed

    def has_table(self, table_name: str) -> bool:
        # Dagster asks before every tagged materialization and check result, each time with a
        # new engine and connection; a table that exists stays until ``wipe``
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        # asked (by reading the table's columns) before every asset event; a column found stays
        if column_name not in self._asset_key_columns and super()._has_asset_key_col_on_connection(
            conn, column_name
        ):
            self._asset_key_columns.add(column_name)
        return column_name in self._asset_key_columns

    def _close_all(self) -> None:
        self._tables.clear()
        self._asset_key_columns.clear()
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_all()
        super().wipe()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()
