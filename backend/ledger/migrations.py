"""Versioned SQL migrations (``migrations/NNNN_name.sql``), applied at start, in order, each
in the transaction that records it, so a ledger is always at one version or the next."""

from __future__ import annotations

import logging
import time
from importlib import resources

from .stores import Connection, Store

log = logging.getLogger("alsats.ledger")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every migration the package ships, oldest first."""
    files = resources.files(__package__).joinpath("migrations")
    found = []
    for entry in files.iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(number), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(store: Store) -> int:
    """Bring the store to the newest version; returns it. Safe with several processes
    starting at once: they take turns, and each applies only what is not yet there."""
    newest = 0
    for version, name, sql in migrations():
        with store.transaction() as db:
            store.lock_migrations(db)
            current = _version(store, db)
            if version > current:
                for statement in _statements(sql):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations (version, name, applied)"
                           " VALUES (?, ?, ?)", (version, name, int(time.time())))
                log.info("ledger migrated to version %d (%s)", version, name)
        newest = version
    return newest


def _version(store: Store, db: Connection) -> int:
    """The ledger's version, made 1 for one that alsats wrote before versions existed."""
    if not store.has_table(db, "schema_migrations"):
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,"
                   " name TEXT NOT NULL, applied BIGINT NOT NULL)")
        if store.has_table(db, "sessions"):  # an unversioned ledger: 0001's tables
            _add_count_columns(db)
            db.execute("INSERT INTO schema_migrations VALUES (1, 'initial', ?)",
                       (int(time.time()),))
    row = db.execute("SELECT MAX(version) AS version FROM schema_migrations").fetchone()
    return row["version"] or 0


def _add_count_columns(db: Connection) -> None:
    """The count columns the first unversioned ledgers lack (SQLite only ever had those)."""
    for table, column, default in (("sessions", "labels_held", 0),
                                   ("charged_calls", "credits", 1)):
        columns = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER NOT NULL"
                       f" DEFAULT {default}")


def _statements(sql: str) -> list[str]:
    """The statements of a migration file (no ``;`` inside a statement, by convention)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
