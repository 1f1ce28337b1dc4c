"""Numbered schema migrations, applied at start-up under the write lock."""

from __future__ import annotations

import sqlite_utils

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
