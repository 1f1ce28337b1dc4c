"""Schema changes: named migrations, frozen as text, that keep what a database already holds."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import sqlite_utils

from db.connection import connect
from db.migrations import MIGRATIONS, migrate, schema_version, type_bit_sql

# sha256 of each shipped migration's statements. A migration that has run somewhere is
# never edited (a fresh database would then differ from an upgraded one): change the
# schema with a new migration, and add its line here.
SHIPPED = {
    "0001_inbound_nonces_conversations":
        "d261ce3cbc2715ea8ac0d831095ef805b016937485ce58cb9c82f23fed25d891",
    "0002_reports":
        "e7e4bf98309d59482576e761bc404b754a186d577927d221504cf9c8621f7dcf",
    "0003_watchlist":
        "106090e8146069bc023b7be177110fe10ee464ec352121c46c0a52e529af6993",
    "0004_inbound_by_message":
        "62bd2ed3cfc6d58fa15e12e5764f820f0c48f4fd993a1900b80062db8b943dcd",
    "0005_fetch_jobs_api_tokens":
        "6ea0f0fb16f18eedf94611038fcddfac77c5b20c19313c89b4f0c9d0d6253410",
    "0006_cases_and_triage_tables":
        "3b579af82d6ffd8d0d0caaf4d69b00ae40c5a5c9c3368bc4626c11a89a6fd0ec",
    "0007_export_columns":
        "91a21d8ccfd2ca367809aa3ea3940c13e6c17a1e9ef71add20891e1a0d403584",
    "0008_entity_index":
        "e1c8eecc9bf83b2078808662109ce66d3005bc0d52dbc4321192d1701b79a79d",
    "0009_drop_identifiers_by_value":
        "f1af007463b09c346dd84e8071a0f13ef923d040eae82d60a136baa7c5c2e91c",
    "0010_entity_sweep":
        "54155624a7af36002fa6d7e193b7f0a39dbdbe576d1b9a2219aea442c73701e7",
    "0011_evidence_reading":
        "7b4c0d5b98c708b496d92b6040db3198d59ecdae87906e848d779f3079ae5597",
    "0012_console":
        "658d42aa48aa80a1f20960ae9085ac10bfd599e31f8e1e7e5c25d5f47779642b",
    "0013_feedback":
        "0c9246f3381e77718a014349ac9ba26c1b8c8fdd080160d74e969848080c659a",
    "0014_draft_sweep":
        "691ac83235d8753576ef30bc25dc7bfffa06d1e4e20d25bc1ae1fb5969728bef",
    "0015_watchlist_aliases":
        "2eab51c7b0db1302f5af166605619fde5bebbc2bc521b0b57cf7494d8fceb60a",
}


def _digest(statements: tuple[str, ...]) -> str:
    return hashlib.sha256("\0".join(statements).encode()).hexdigest()


def _at_version(path: Path, version: int) -> sqlite_utils.Database:
    """Open a database as a Tipline of that era left it: migrations 1..version applied."""
    db = connect(path)
    db.execute("BEGIN IMMEDIATE")
    for migration in MIGRATIONS[:version]:
        for statement in migration.statements:
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {version}")
    db.execute("COMMIT")
    return db


def _schema(db: sqlite_utils.Database) -> list[tuple[str, str, str | None]]:
    """Return every table, index, trigger and view with its SQL, whitespace normalised."""
    return [(kind, name, None if sql is None else " ".join(sql.split()))
            for kind, name, sql in db.execute(
                "SELECT type, name, sql FROM sqlite_master "
                "WHERE type IN ('table', 'index', 'trigger', 'view') ORDER BY type, name")]


def _fresh_schema(tmp_path: Path) -> list[tuple[str, str, str | None]]:
    db = connect(tmp_path / "fresh.db")
    migrate(db)
    return _schema(db)


def _number(name: str) -> int:
    """Return the number of the migration with this name (its place in MIGRATIONS)."""
    return [m.name for m in MIGRATIONS].index(name) + 1


def test_migrations_apply_once_and_in_order(tmp_path: Path) -> None:
    db = connect(tmp_path / "t.db")
    assert migrate(db) == len(MIGRATIONS)
    assert migrate(db) == 0
    assert schema_version(db) == len(MIGRATIONS)


def test_names_are_unique_and_numbered_in_order() -> None:
    names = [m.name for m in MIGRATIONS]
    assert len(set(names)) == len(names)
    for number, name in enumerate(names, start=1):
        assert re.fullmatch(rf"{number:04d}_[a-z0-9_]+", name), name
    assert names == sorted(names)


def test_shipped_migrations_are_never_edited() -> None:
    digests = {m.name: _digest(m.statements) for m in MIGRATIONS}
    assert digests == SHIPPED


def test_a_fresh_database_has_the_schema_of_one_upgraded_from_the_first_migration(
    tmp_path: Path,
) -> None:
    db = _at_version(tmp_path / "old.db", 1)
    db.execute("INSERT INTO inbound VALUES ('p_3f9a', '24471039213785', 'text', 1700000000, "
               "'Your report is filed: 7K2QM-9XH4C')")
    db.execute("INSERT INTO nonces VALUES (1700000000, '1429350173', ?)",
               (hashlib.sha256(b"<xml/>").digest(),))
    db.execute("INSERT INTO conversations VALUES ('p_3f9a', '{\"step\": \"who\"}', 1700000000)")

    assert migrate(db) == len(MIGRATIONS) - 1
    assert _schema(db) == _fresh_schema(tmp_path)
    assert db.execute("SELECT * FROM inbound").fetchall() == [
        ("p_3f9a", "24471039213785", "text", 1700000000, "Your report is filed: 7K2QM-9XH4C")]
    assert db.execute("SELECT count(*) FROM nonces").fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM conversations").fetchone() == (1,)


@pytest.mark.parametrize("version", range(1, len(MIGRATIONS)))
def test_a_database_at_any_earlier_version_upgrades_to_the_fresh_schema(
    tmp_path: Path, version: int
) -> None:
    db = _at_version(tmp_path / "old.db", version)

    assert migrate(db) == len(MIGRATIONS) - version
    assert schema_version(db) == len(MIGRATIONS)
    assert _schema(db) == _fresh_schema(tmp_path)


def test_a_database_at_version_4_keeps_its_reports_and_brings_them_into_triage(
    tmp_path: Path,
) -> None:
    db = _at_version(tmp_path / "old.db", _number("0004_inbound_by_message"))
    for n, reporter, target_type in ((1, "p_a", "exchange"), (2, "p_b", "payment")):
        db.execute("INSERT INTO reports (id, receipt, reporter, target_type, who, description, "
                   "lang, received_at, updated_at) VALUES (?, ?, ?, ?, 'CoinVIP', 'd', 'zh', ?, ?)",
                   (n, f"RCPT{n}", reporter, target_type, 1700000000 + n, 1700000000 + n))
        db.execute("INSERT INTO report_identifiers VALUES (?, 'domain', 'coinvip.cc', "
                   "'CoinVIP.cc')", (n,))
    db.execute("INSERT INTO evidence (report_id, reporter, kind, media_id, details, "
               "fetch_status, received_at) VALUES (1, 'p_a', 'image', 'MEDIA1', '{}', "
               "'pending', 1700000001)")

    assert migrate(db) == len(MIGRATIONS) - 4
    assert _schema(db) == _fresh_schema(tmp_path)
    # 5 queued the pending download, 6 built triage's tables, 7 filled the export
    # columns, 8 counted everything so far as indexed.
    assert db.execute("SELECT evidence_id, due_at, expires_at FROM fetch_jobs").fetchall() == [
        (1, 1700000001, 1700000001 + 259200)]
    assert db.execute("SELECT * FROM entity_stats").fetchall() == [
        ("domain", "coinvip.cc", 2, 2, 1700000001, 1700000002, 1 | 8)]
    assert db.execute("SELECT id, identifiers_text, evidence_count FROM reports ORDER BY id"
                      ).fetchall() == [(1, "domain:coinvip.cc", 1), (2, "domain:coinvip.cc", 0)]
    assert db.execute("SELECT indexed_to, sweep_to FROM entity_index").fetchone() == (2, None)


def test_the_type_bits_frozen_in_migration_6_are_what_triage_computes() -> None:
    # db/entities.py computes bits with the live type_bit_sql; the triggers of existing
    # databases hold migration 6's text. An edit to TYPE_BITS must not split the two.
    statements = MIGRATIONS[_number("0006_cases_and_triage_tables") - 1].statements
    (insert,) = [s for s in statements if s.startswith("CREATE TRIGGER entity_stats_insert")]
    assert type_bit_sql("NEW.target_type") in insert


def test_migration_4_rekeys_inbound_and_keeps_its_rows(tmp_path: Path) -> None:
    db = _at_version(tmp_path / "old.db", 3)
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
    db = _at_version(tmp_path / "old.db", 6)
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
