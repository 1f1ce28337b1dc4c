"""Schema changes: numbered migrations that keep what a database already holds."""

from __future__ import annotations

from pathlib import Path

from db.connection import connect
from db.migrations import MIGRATIONS, migrate, schema_version


def test_migrations_apply_once_and_in_order(tmp_path: Path) -> None:
    db = connect(tmp_path / "t.db")
    assert migrate(db) == len(MIGRATIONS)
    assert migrate(db) == 0
    assert schema_version(db) == len(MIGRATIONS)


def test_migration_4_rekeys_inbound_and_keeps_its_rows(tmp_path: Path) -> None:
    db = connect(tmp_path / "old.db")
    db.execute("BEGIN IMMEDIATE")
    for migration in MIGRATIONS[:3]:
        for statement in migration:
            db.execute(statement)
    db.execute("PRAGMA user_version = 3")
    db.execute("COMMIT")
    db.execute("INSERT INTO inbound VALUES ('reporter', 'm42', 'text', 1700000000, 'hello')")

    assert migrate(db) == len(MIGRATIONS) - 3
    assert db.execute("SELECT * FROM inbound").fetchall() == [
        ("reporter", "m42", "text", 1700000000, "hello")]
    plan = " ".join(str(row[-1]) for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT reply FROM inbound WHERE sender = 'r' AND dedup_key = 'm1'"))
    assert "PRIMARY KEY (dedup_key=? AND sender=?)" in plan, plan
