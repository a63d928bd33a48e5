"""Where the ledger's rows live: a SQLite file (the embedded default) or a PostgreSQL server.

Both are driven the same way, by blocking DB-API calls on the store's own threads (so no
query, and no fsync, ever runs on the event loop): one thread for SQLite, whose writers
take turns anyway; a pool of connections and as many threads for PostgreSQL. The SQL is
written once, with ``?`` placeholders and types both understand (BYTEA, BIGINT, DOUBLE
PRECISION are names SQLite maps to its own affinities).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from ..sqlite import open_database, transaction

POSTGRES_CONNECTIONS = 8  # per web process: calls beyond wait for a connection


class LedgerUrlError(ValueError):
    """The ledger URL names no store alsats has."""


class Connection(Protocol):
    def execute(self, sql: str, params: tuple = ()) -> Any: ...


class Store(Protocol):
    """What the ledger needs of a database."""

    name: str
    executor: ThreadPoolExecutor
    unavailable: tuple[type[Exception], ...]  # the driver's "cannot reach the data" errors
    for_update: str  # the clause that locks a row read in a transaction ("" if none)

    def connection(self) -> Any: ...  # a context manager: a Connection, autocommit
    def transaction(self) -> Any: ...  # a context manager: a Connection, in a transaction
    def has_table(self, db: Connection, name: str) -> bool: ...
    def lock_migrations(self, db: Connection) -> None: ...
    def close(self) -> None: ...


class SqliteStore:
    """One WAL connection on one thread; FULL sync, so a commit survives a power cut."""

    name = "sqlite"
    unavailable = (sqlite3.OperationalError,)  # locked past its timeout, disk I/O, ...
    for_update = ""  # BEGIN IMMEDIATE already locks the whole database for writing

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="alsats-ledger")
        self._db = self.executor.submit(open_database, path, "", "FULL").result()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        yield self._db

    def transaction(self):
        return transaction(self._db)

    def has_table(self, db: Connection, name: str) -> bool:
        return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                          (name,)).fetchone() is not None

    def lock_migrations(self, db: Connection) -> None:
        """Nothing to do: BEGIN IMMEDIATE keeps a second process out until COMMIT."""

    def close(self) -> None:
        self.executor.submit(self._db.close).result()
        self.executor.shutdown(wait=True)


class _Placeholders:
    """A psycopg connection that takes the ledger's ``?`` placeholders."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, params: tuple = ()) -> Any:
        return self._connection.execute(sql.replace("?", "%s"), params)


class PostgresStore:
    """A psycopg pool of autocommit connections, one thread per connection."""

    name = "postgresql"
    for_update = " FOR UPDATE"
    MIGRATION_LOCK = 0x616C73  # pg_advisory_xact_lock's key: one migrating process at a time

    def __init__(self, url: str, connections: int = POSTGRES_CONNECTIONS) -> None:
        try:
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise LedgerUrlError("a PostgreSQL ledger needs psycopg: pip install "
                                 "'alsats[hosted]'") from None
        from psycopg import OperationalError
        from psycopg_pool import PoolTimeout
        self.unavailable = (OperationalError, PoolTimeout)
        self.executor = ThreadPoolExecutor(connections, thread_name_prefix="alsats-ledger")
        self._pool = ConnectionPool(url, min_size=1, max_size=connections, open=False,
                                    kwargs={"autocommit": True, "row_factory": dict_row})
        self._pool.open(wait=True, timeout=30)

    @contextmanager
    def connection(self) -> Iterator[_Placeholders]:
        with self._pool.connection() as connection:
            yield _Placeholders(connection)

    @contextmanager
    def transaction(self) -> Iterator[_Placeholders]:
        with self._pool.connection() as connection, connection.transaction():
            yield _Placeholders(connection)

    def has_table(self, db: Connection, name: str) -> bool:
        return db.execute("SELECT to_regclass(?) AS found", (name,)).fetchone()["found"] \
            is not None

    def lock_migrations(self, db: Connection) -> None:
        db.execute("SELECT pg_advisory_xact_lock(?)", (self.MIGRATION_LOCK,))

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self._pool.close()


def open_store(url: str) -> SqliteStore | PostgresStore:
    """The store a ledger URL names: ``sqlite:///PATH`` (``sqlite:////abs/path`` or a
    path relative to the working folder) or ``postgresql://...`` (libpq's URL)."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = unquote(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else ""
        if not path:
            raise LedgerUrlError(f"a SQLite ledger URL is sqlite:///PATH, got {url!r}")
        return SqliteStore(Path(path))
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(url)
    raise LedgerUrlError(f"the ledger is sqlite:///PATH or postgresql://..., got {url!r}")
