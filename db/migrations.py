"""Numbered schema migrations, applied at start-up under the write lock."""

from __future__ import annotations

import sqlite_utils

# Target types with their own entity_stats column; anything else counts as `other`.
_STAT_TYPES = ("exchange", "ico", "wechat_account", "payment", "app")


def _stats_change(row: str, scope: str, sign: str) -> str:
    """Return migration 6's statements counting an entity_reports row in or out of a scope.

    `row` is NEW (sign +) or OLD (sign -); `scope` is '*' (all statuses) or the row's
    status. The reporter is new to (or gone from) the scope when no other row of theirs
    names the entity there; first and last sighting are re-read from the key's ends.
    """
    same = f"kind = {row}.kind AND value = {row}.value"
    in_scope = "" if scope == "'*'" else f" AND status = {row}.status"
    others = f"reporter = {row}.reporter{in_scope}" + (
        f" AND report_id != {row}.report_id" if sign == "+" else "")
    types = ", ".join(f"{t} = {t} {sign} ({row}.target_type = '{t}')" for t in _STAT_TYPES)
    listed = ", ".join(f"'{t}'" for t in _STAT_TYPES)
    insert = (
        "INSERT INTO entity_stats (kind, value, status, reports, reporters, first_seen, "
        f"last_seen) VALUES ({row}.kind, {row}.value, {scope}, 0, 0, {row}.received_at, "
        f"{row}.received_at) ON CONFLICT DO NOTHING;" if sign == "+" else ""
    )
    if sign == "+":
        seen = (f"first_seen = min(first_seen, {row}.received_at), "
                f"last_seen = max(last_seen, {row}.received_at)")
    else:
        seen = (f"first_seen = coalesce((SELECT min(received_at) FROM entity_reports WHERE "
                f"{same}{in_scope}), first_seen), last_seen = coalesce((SELECT "
                f"max(received_at) FROM entity_reports WHERE {same}{in_scope}), last_seen)")
    cleanup = (f" DELETE FROM entity_stats WHERE {same} AND status = {scope} AND reports <= 0;"
               if sign == "-" else "")
    return (
        f"{insert} UPDATE entity_stats SET reports = reports {sign} 1, "
        f"reporters = reporters {sign} NOT EXISTS (SELECT 1 FROM entity_reports WHERE "
        f"{same} AND {others}), {seen}, {types}, other = other {sign} "
        f"({row}.target_type NOT IN ({listed})) WHERE {same} AND status = {scope};{cleanup}"
    )


def _totals_change(row: str, sign: str) -> str:
    """Return migration 6's statements counting a report in (+, NEW) or out (-, OLD)."""
    if sign == "+":
        return (
            "INSERT INTO report_totals VALUES (NEW.status, NEW.target_type, 1) "
            "ON CONFLICT (status, target_type) DO UPDATE SET reports = reports + 1; "
            "INSERT INTO reporter_totals VALUES (NEW.reporter, NEW.status, 1) "
            "ON CONFLICT (reporter, status) DO UPDATE SET reports = reports + 1;"
        )
    keys = {"report_totals": ("status", "target_type"), "reporter_totals": ("reporter", "status")}
    statements = []
    for table, columns in keys.items():
        match = " AND ".join(f"{c} = {row}.{c}" for c in columns)
        statements.append(f"UPDATE {table} SET reports = reports - 1 WHERE {match}; "
                          f"DELETE FROM {table} WHERE {match} AND reports <= 0;")
    return " ".join(statements)


# Append only: migration N is MIGRATIONS[N - 1]; PRAGMA user_version records the last applied.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # Every message or event accepted, keyed the way WeChat's retries repeat it,
        # with the reply it got (so a retry is answered again, not processed again).
        """CREATE TABLE inbound (
            sender TEXT NOT NULL,
            dedup_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            reply TEXT,
            PRIMARY KEY (sender, dedup_key)
        ) WITHOUT ROWID""",
        "CREATE INDEX inbound_received_at ON inbound (received_at)",
        # Request nonces seen inside the timestamp window, with a digest of the body
        # they came with: the same nonce with another body is a replay.
        """CREATE TABLE nonces (
            timestamp INTEGER NOT NULL,
            nonce TEXT NOT NULL,
            body_sha256 BLOB NOT NULL,
            PRIMARY KEY (timestamp, nonce)
        ) WITHOUT ROWID""",
        # One row per reporter (pseudonym): the conversation state as JSON.
        """CREATE TABLE conversations (
            reporter TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
    (
        # Filed reports. `receipt` is what the reporter holds; `reporter` is a pseudonym.
        """CREATE TABLE reports (
            id INTEGER PRIMARY KEY,
            receipt TEXT NOT NULL UNIQUE,
            reporter TEXT NOT NULL,
            channel TEXT NOT NULL DEFAULT 'wechat',
            status TEXT NOT NULL DEFAULT 'new'
                CHECK (status IN ('new', 'reviewing', 'escalated', 'dismissed', 'closed')),
            target_type TEXT NOT NULL,
            who TEXT NOT NULL,
            description TEXT NOT NULL,
            lang TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )""",
        "CREATE INDEX reports_by_reporter ON reports (reporter, received_at)",
        "CREATE INDEX reports_by_time ON reports (received_at)",
        # What each report names, normalised at filing time: triage is a query, not a rescan.
        """CREATE TABLE report_identifiers (
            report_id INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            raw TEXT NOT NULL,
            PRIMARY KEY (report_id, kind, value)
        ) WITHOUT ROWID""",
        "CREATE INDEX identifiers_by_value ON report_identifiers (kind, value)",
        # Evidence, kept from the moment it arrives (media expire at WeChat after 3 days);
        # linked to its draft until the report is filed, then to the report.
        """CREATE TABLE evidence (
            id INTEGER PRIMARY KEY,
            draft_id TEXT,
            report_id INTEGER REFERENCES reports (id) ON DELETE CASCADE,
            reporter TEXT NOT NULL,
            kind TEXT NOT NULL,
            media_id TEXT,
            details TEXT NOT NULL,
            fetch_status TEXT NOT NULL,
            sha256 TEXT,
            size INTEGER,
            mime TEXT,
            fetched_at INTEGER,
            received_at INTEGER NOT NULL
        )""",
        "CREATE INDEX evidence_by_draft ON evidence (draft_id) WHERE draft_id IS NOT NULL",
        "CREATE INDEX evidence_by_report ON evidence (report_id)",
        # Every change to a report, append-only: who, when, what.
        """CREATE TABLE report_history (
            id INTEGER PRIMARY KEY,
            report_id INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX history_by_report ON report_history (report_id, at)",
    ),
    (
        # Platforms regulators track (`tipline watchlist import`), one row per name.
        """CREATE TABLE watchlist (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            imported_at INTEGER NOT NULL
        )""",
        # What a platform is recognised by: name/pinyin keys, registrable domains and
        # wallet addresses, in the forms triage.watchlist gives. Keyed (kind, value) first
        # so matching an identifier is one index lookup.
        """CREATE TABLE watchlist_terms (
            watchlist_id INTEGER NOT NULL REFERENCES watchlist (id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (kind, value, watchlist_id)
        ) WITHOUT ROWID""",
        # A re-import deletes an entry's terms by entry: without this it scans the table.
        "CREATE INDEX watchlist_terms_by_entry ON watchlist_terms (watchlist_id)",
    ),
    (
        # Key inbound by MsgId first: WeChat's MsgIds (and events' CreateTime) grow with
        # time, so new rows land on the last page instead of one random page per sender,
        # which roughly halved the pages a batch writes (and its fsync).
        """CREATE TABLE inbound_by_message (
            sender TEXT NOT NULL,
            dedup_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            reply TEXT,
            PRIMARY KEY (dedup_key, sender)
        ) WITHOUT ROWID""",
        "INSERT INTO inbound_by_message SELECT sender, dedup_key, kind, received_at, reply "
        "FROM inbound",
        "DROP TABLE inbound",
        "ALTER TABLE inbound_by_message RENAME TO inbound",
        "CREATE INDEX inbound_received_at ON inbound (received_at)",
    ),
    (
        # Media waiting to be downloaded from WeChat: one job per evidence item, written
        # in the transaction that records the message, deleted when the fetch settles.
        # A fetcher claims a job by setting a lease (claimed_until); a lease that runs out
        # (the fetcher died) makes the job claimable again.
        """CREATE TABLE fetch_jobs (
            evidence_id INTEGER PRIMARY KEY REFERENCES evidence (id) ON DELETE CASCADE,
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            claimed_by TEXT,
            claimed_until INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )""",
        "CREATE INDEX fetch_jobs_by_due ON fetch_jobs (due_at)",
        # Media already pending before the queue existed are queued now (3 days to expiry).
        "INSERT INTO fetch_jobs (evidence_id, due_at, expires_at) "
        "SELECT id, received_at, received_at + 259200 FROM evidence "
        "WHERE fetch_status = 'pending' AND media_id IS NOT NULL",
        # The one access token every process shares (from WeChat's stable_token endpoint).
        """CREATE TABLE api_tokens (
            app_id TEXT PRIMARY KEY,
            token TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            fetched_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
    (
        # Case handling: who a report is assigned to (notes and changes go to
        # report_history, which is append-only).
        "ALTER TABLE reports ADD COLUMN assignee TEXT",
        "CREATE INDEX reports_by_status ON reports (status, received_at)",
        # When each investigator last ran triage: "new since my last run".
        """CREATE TABLE triage_runs (
            investigator TEXT PRIMARY KEY,
            last_run_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
        # Admin actions that outlive the reports they touch (purge, import, backup).
        """CREATE TABLE admin_log (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        # Triage reads (db/summary.py). Triggers keep these in step with reports and
        # report_identifiers, whatever code files, imports, updates or purges a report.
        #
        # entity_reports: one row per identifier and report, with the report's time,
        # reporter, status and target type, so a ranking filtered by time is one pass
        # over one table with no join. Keyed by entity then time: an entity's first and
        # last sighting and latest receipts are the ends of its key range.
        """CREATE TABLE entity_reports (
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            report_id INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
            reporter TEXT NOT NULL,
            status TEXT NOT NULL,
            target_type TEXT NOT NULL,
            PRIMARY KEY (kind, value, received_at, report_id)
        ) WITHOUT ROWID""",
        "INSERT INTO entity_reports SELECT i.kind, i.value, r.received_at, r.id, r.reporter, "
        "r.status, r.target_type FROM report_identifiers AS i JOIN reports AS r "
        "ON r.id = i.report_id ORDER BY i.kind, i.value, r.received_at, r.id",
        # In reporter order within an entity: distinct reporters are counted without a
        # temporary B-tree, and "has this reporter named it before" is one probe.
        "CREATE INDEX entity_reports_by_reporter ON entity_reports (kind, value, reporter, status)",
        "CREATE INDEX entity_reports_by_report ON entity_reports (report_id)",
        # entity_stats: per entity, its reports, distinct reporters, first and last
        # sighting and reports per target type, once over all its reports (status '*')
        # and once per status, so a ranking not filtered by time reads one row per entity.
        """CREATE TABLE entity_stats (
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            status TEXT NOT NULL,
            reports INTEGER NOT NULL,
            reporters INTEGER NOT NULL,
            first_seen INTEGER NOT NULL,
            last_seen INTEGER NOT NULL,
            exchange INTEGER NOT NULL DEFAULT 0,
            ico INTEGER NOT NULL DEFAULT 0,
            wechat_account INTEGER NOT NULL DEFAULT 0,
            payment INTEGER NOT NULL DEFAULT 0,
            app INTEGER NOT NULL DEFAULT 0,
            other INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (kind, value, status)
        ) WITHOUT ROWID""",
        *(
            f"""INSERT INTO entity_stats SELECT kind, value, {scope}, count(*),
                count(DISTINCT reporter), min(received_at), max(received_at),
                {", ".join(f"sum(target_type = '{t}')" for t in _STAT_TYPES)},
                sum(target_type NOT IN ({", ".join(f"'{t}'" for t in _STAT_TYPES)}))
            FROM entity_reports GROUP BY kind, value{", status" if scope == "status" else ""}"""
            for scope in ("'*'", "status")
        ),
        # The busiest and latest first: a ranking reads the entities that enough reporters
        # named, lately, and needs no more than a bound for the long tail.
        "CREATE INDEX entity_stats_by_reporters ON entity_stats (status, reporters, last_seen)",
        """CREATE TRIGGER entity_reports_insert AFTER INSERT ON report_identifiers BEGIN
            INSERT OR IGNORE INTO entity_reports
            SELECT NEW.kind, NEW.value, r.received_at, r.id, r.reporter, r.status, r.target_type
            FROM reports AS r WHERE r.id = NEW.report_id;
        END""",
        """CREATE TRIGGER entity_reports_delete AFTER DELETE ON report_identifiers BEGIN
            DELETE FROM entity_reports
            WHERE report_id = OLD.report_id AND kind = OLD.kind AND value = OLD.value;
        END""",
        # A case update (status) or any other change to what triage counts: take the
        # report's rows out and put them back, so the stats triggers below see it.
        """CREATE TRIGGER entity_reports_refile
        AFTER UPDATE OF status, reporter, target_type, received_at ON reports
        WHEN OLD.status IS NOT NEW.status OR OLD.reporter IS NOT NEW.reporter
            OR OLD.target_type IS NOT NEW.target_type OR OLD.received_at IS NOT NEW.received_at
        BEGIN
            DELETE FROM entity_reports WHERE report_id = NEW.id;
            INSERT OR IGNORE INTO entity_reports
            SELECT i.kind, i.value, NEW.received_at, NEW.id, NEW.reporter, NEW.status,
                NEW.target_type
            FROM report_identifiers AS i WHERE i.report_id = NEW.id;
        END""",
        f"""CREATE TRIGGER entity_stats_insert AFTER INSERT ON entity_reports BEGIN
            {_stats_change("NEW", "'*'", "+")}
            {_stats_change("NEW", "NEW.status", "+")}
        END""",
        f"""CREATE TRIGGER entity_stats_delete AFTER DELETE ON entity_reports BEGIN
            {_stats_change("OLD", "'*'", "-")}
            {_stats_change("OLD", "OLD.status", "-")}
        END""",
        # Triage totals over a --since window or some statuses read only these: counts by
        # status and type, and distinct reporters (in reporter order, so counting them
        # needs no temporary B-tree).
        "CREATE INDEX reports_by_type ON reports (status, target_type, received_at)",
        "CREATE INDEX reports_by_reporter_status ON reports (reporter, received_at, status)",
        # Running totals for summaries not cut by time: reports by status and type, and
        # by reporter and status (distinct reporters are a count of rows).
        """CREATE TABLE report_totals (
            status TEXT NOT NULL,
            target_type TEXT NOT NULL,
            reports INTEGER NOT NULL,
            PRIMARY KEY (status, target_type)
        ) WITHOUT ROWID""",
        "INSERT INTO report_totals SELECT status, target_type, count(*) FROM reports "
        "GROUP BY status, target_type",
        """CREATE TABLE reporter_totals (
            reporter TEXT NOT NULL,
            status TEXT NOT NULL,
            reports INTEGER NOT NULL,
            PRIMARY KEY (reporter, status)
        ) WITHOUT ROWID""",
        "INSERT INTO reporter_totals SELECT reporter, status, count(*) FROM reports "
        "GROUP BY reporter, status",
        f"""CREATE TRIGGER report_totals_insert AFTER INSERT ON reports BEGIN
            {_totals_change("NEW", "+")}
        END""",
        f"""CREATE TRIGGER report_totals_delete AFTER DELETE ON reports BEGIN
            {_totals_change("OLD", "-")}
        END""",
        f"""CREATE TRIGGER report_totals_update AFTER UPDATE OF status, target_type, reporter
        ON reports WHEN OLD.status IS NOT NEW.status OR OLD.target_type IS NOT NEW.target_type
            OR OLD.reporter IS NOT NEW.reporter BEGIN
            {_totals_change("OLD", "-")}
            {_totals_change("NEW", "+")}
        END""",
    ),
    (
        # What `tipline export` shows of a report's identifiers and evidence, kept on the
        # report row so an export is one sequential scan of one table (a subquery and a
        # count per row made it 5x the sqlite3 shell's dump). identifiers_text is
        # "kind:value; kind:value" in (kind, value) order, NULL for none: written at
        # filing (db.reports.identifiers_text), the only time identifiers are written.
        "ALTER TABLE reports ADD COLUMN identifiers_text TEXT",
        "ALTER TABLE reports ADD COLUMN evidence_count INTEGER NOT NULL DEFAULT 0",
        "UPDATE reports SET identifiers_text = (SELECT group_concat(i.kind || ':' || i.value, "
        "'; ') FROM report_identifiers AS i WHERE i.report_id = reports.id), "
        "evidence_count = (SELECT count(*) FROM evidence AS e WHERE e.report_id = reports.id)",
        # Evidence joins its report at filing (and might be added or removed later): the
        # count follows every row that gains, loses or changes its report.
        """CREATE TRIGGER evidence_count_insert AFTER INSERT ON evidence
        WHEN NEW.report_id IS NOT NULL BEGIN
            UPDATE reports SET evidence_count = evidence_count + 1 WHERE id = NEW.report_id;
        END""",
        """CREATE TRIGGER evidence_count_delete AFTER DELETE ON evidence
        WHEN OLD.report_id IS NOT NULL BEGIN
            UPDATE reports SET evidence_count = evidence_count - 1 WHERE id = OLD.report_id;
        END""",
        """CREATE TRIGGER evidence_count_update AFTER UPDATE OF report_id ON evidence
        WHEN OLD.report_id IS NOT NEW.report_id BEGIN
            UPDATE reports SET evidence_count = evidence_count - 1 WHERE id = OLD.report_id;
            UPDATE reports SET evidence_count = evidence_count + 1 WHERE id = NEW.report_id;
        END""",
    ),
)


def schema_version(db: sqlite_utils.Database) -> int:
    """Return the number of the last migration applied."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database) -> int:
    """Apply pending migrations in one transaction; return how many were applied."""
    if schema_version(db) >= len(MIGRATIONS):
        return 0
    db.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the lock: another worker process may have migrated meanwhile.
        current = schema_version(db)
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"database schema {current} is newer than this Tipline ({len(MIGRATIONS)})"
            )
        for number in range(current + 1, len(MIGRATIONS) + 1):
            for statement in MIGRATIONS[number - 1]:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return len(MIGRATIONS) - current
