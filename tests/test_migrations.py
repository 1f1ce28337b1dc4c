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


def test_migration_7_puts_each_reports_identifiers_and_evidence_count_on_its_row(
    tmp_path: Path
) -> None:
    db = connect(tmp_path / "old.db")
    db.execute("BEGIN IMMEDIATE")
    for migration in MIGRATIONS[:6]:
        for statement in migration:
            db.execute(statement)
    db.execute("PRAGMA user_version = 6")
    db.execute("COMMIT")
    for n, receipt in enumerate(("AAAAA11111", "BBBBB22222"), start=1):
        db.execute("INSERT INTO reports (id, receipt, reporter, target_type, who, description, "
                   "lang, received_at, updated_at) VALUES (?, ?, 'r', 'exchange', 'w', 'd', "
                   "'zh', 1700000000, 1700000000)", (n, receipt))
    db.conn.executemany("INSERT INTO report_identifiers VALUES (1, ?, ?, ?)", [
        ("wechat_id", "coinvip888", "coinvip888"), ("domain", "b.cc", "B.cc"),
        ("domain", "a.cc", "a.cc")])
    db.conn.executemany(
        "INSERT INTO evidence (report_id, reporter, kind, details, fetch_status, received_at) "
        "VALUES (1, 'r', 'image', '{}', 'pending', 1700000000)", [(), ()])

    assert migrate(db) == len(MIGRATIONS) - 6
    assert db.execute("SELECT id, identifiers_text, evidence_count FROM reports ORDER BY id"
                      ).fetchall() == [(1, "domain:a.cc; domain:b.cc; wechat_id:coinvip888", 2),
                                       (2, None, 0)]
    # From now on the count follows the evidence rows.
    db.execute("DELETE FROM evidence WHERE id = 1")
    db.execute("UPDATE evidence SET report_id = 2")
    assert db.execute("SELECT evidence_count FROM reports ORDER BY id").fetchall() == [(0,), (1,)]


def test_identifiers_text_is_what_group_concat_gives() -> None:
    from db.reports import identifiers_text

    assert identifiers_text([]) is None
    assert identifiers_text([("wechat_id", "z9", "Z9"), ("domain", "é.cn", "é.cn"),
                             ("domain", "b.cc", "x"), ("wechat_id", "z9", "again"),
                             ("domain", "Z.cc", "Z.cc")]) == (
        "domain:Z.cc; domain:b.cc; domain:é.cn; wechat_id:z9")
