"""Versioned schema migrations: numbered SQL files, applied in order, each in its own transaction.

``migrations/NNNN_name.sql`` holds migration NNNN. ``schema_migrations`` records what a file has
had applied, so opening an old file upgrades it and re-running is a no-op. A migration is never
edited once released: a change is a new file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@lru_cache(maxsize=1)
def available_migrations() -> tuple[Migration, ...]:
    """Every migration shipped with the code, oldest first."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise RuntimeError(f"migration file {path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return tuple(found)


def latest_version() -> int:
    return available_migrations()[-1].version


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The newest migration applied to this database (0 for a fresh file)."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: duckdb.DuckDBPyConnection, target: int | None = None) -> list[int]:
    """Apply the missing migrations up to ``target`` (default: all); returns those applied."""
    target = latest_version() if target is None else target
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)"
    )
    current = schema_version(conn)
    if current > latest_version():
        raise RuntimeError(
            f"the database is at schema version {current}, newer than this code "
            f"({latest_version()}): upgrade nlp-bench before writing to it"
        )
    applied = []
    for migration in available_migrations():
        if current < migration.version <= target:
            conn.execute("BEGIN TRANSACTION")
            try:
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                    [migration.version, migration.name],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(migration.version)
    return applied
