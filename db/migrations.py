"""Named schema migrations, applied in order at start-up under the write lock."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from db.connection import write_transaction

# Bits of entity_stats.types, one per target type (an unknown code counts as other).
# Frozen: databases store these bits, and migration 6's triggers hold them as text;
# db/summary.py and db/entities.py read them (tests check the two still agree).
TYPE_BITS = {"exchange": 1, "ico": 2, "wechat_account": 4, "payment": 8, "app": 16, "other": 32}


def type_bit_sql(column: str) -> str:
    """Return SQL for the TYPE_BITS bit of a target type column."""
    cases = " ".join(f"WHEN '{code}' THEN {bit}" for code, bit in TYPE_BITS.items())
    return f"(CASE {column} {cases} ELSE {TYPE_BITS['other']} END)"


@dataclass(frozen=True)
class Migration:
    """One schema step: a name ("0007_export_columns") and the SQL it runs, as text."""

    name: str
    statements: tuple[str, ...]


# Append only, and never edit one that has shipped: migration N is MIGRATIONS[N - 1], its
# name starts with N, and PRAGMA user_version records the number of the last applied.
#
# Each migration is literal SQL text and calls nothing (not type_bit_sql, no shared
# fragment): a helper edited later would change what an old migration builds on a fresh
# database, which then differs from one upgraded years ago. So SQL that several steps
# share (the refile trigger's opening, the "indexed or being swept" bound, the type-bit
# CASE) is repeated in each, on purpose, exactly as it was first written: the text in
# sqlite_master is this text, byte for byte, hence some lines longer than the rest.
MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_inbound_nonces_conversations", (
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
    )),
    Migration("0002_reports", (
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
    )),
    Migration("0003_watchlist", (
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
    )),
    Migration("0004_inbound_by_message", (
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
    )),
    Migration("0005_fetch_jobs_api_tokens", (
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
    )),
    Migration("0006_cases_and_triage_tables", (
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
        # Triage reads (db/summary.py), kept in step with reports and report_identifiers
        # by the triggers below, whatever code files, imports, updates or purges a report.
        # Two statements run per identifier filed (one per table), each keyed so a batch
        # sorted by (kind, value) touches each page once. Measured on importer-style
        # batches: about 80 us per tip on top of filing's 50; every further statement or
        # index on these tables cost some 30 more, hence none.
        #
        # entity_reports: one row per identifier and report with the report's reporter,
        # time, status and type: a ranking filtered by time or status reads an entity's
        # rows without a join. Keyed by reporter within the entity, so "has this reporter
        # named it before" is one probe and distinct reporters are counted as read.
        """CREATE TABLE entity_reports (
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            reporter TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            report_id INTEGER NOT NULL,
            status TEXT NOT NULL,
            target_type TEXT NOT NULL,
            PRIMARY KEY (kind, value, reporter, received_at, report_id)
        ) WITHOUT ROWID""",
        "INSERT INTO entity_reports SELECT i.kind, i.value, r.reporter, r.received_at, r.id, "
        "r.status, r.target_type FROM report_identifiers AS i JOIN reports AS r "
        "ON r.id = i.report_id ORDER BY i.kind, i.value, r.reporter, r.received_at, r.id",
        # entity_stats: one row per entity over all its reports, so the unfiltered
        # ranking reads one row per entity. `types` has a bit per target type named
        # (TYPE_BITS); first_seen is NULL when the first report was deleted (re-read
        # when shown).
        """CREATE TABLE entity_stats (
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            reports INTEGER NOT NULL,
            reporters INTEGER NOT NULL,
            first_seen INTEGER,
            last_seen INTEGER NOT NULL,
            types INTEGER NOT NULL,
            PRIMARY KEY (kind, value)
        ) WITHOUT ROWID""",
        """INSERT INTO entity_stats SELECT kind, value, count(*), count(DISTINCT reporter),
            min(received_at), max(received_at), sum(DISTINCT (CASE target_type WHEN 'exchange' THEN 1 WHEN 'ico' THEN 2 WHEN 'wechat_account' THEN 4 WHEN 'payment' THEN 8 WHEN 'app' THEN 16 WHEN 'other' THEN 32 ELSE 32 END))
        FROM entity_reports GROUP BY kind, value""",  # noqa: E501 (frozen text)
        """CREATE TRIGGER entity_reports_insert AFTER INSERT ON report_identifiers BEGIN
            INSERT OR IGNORE INTO entity_reports
            SELECT NEW.kind, NEW.value, r.reporter, r.received_at, r.id, r.status, r.target_type
            FROM reports AS r WHERE r.id = NEW.report_id;
        END""",
        # An identifier taken off a report that stays (a report's own deletion is below).
        """CREATE TRIGGER entity_reports_delete AFTER DELETE ON report_identifiers BEGIN
            DELETE FROM entity_reports WHERE (kind, value, reporter, received_at, report_id) IN
                (SELECT OLD.kind, OLD.value, r.reporter, r.received_at, r.id
                 FROM reports AS r WHERE r.id = OLD.report_id);
        END""",
        # Before the row goes: its identifiers and columns find its rows by key.
        """CREATE TRIGGER entity_reports_purge BEFORE DELETE ON reports BEGIN
            DELETE FROM entity_reports WHERE (kind, value, reporter, received_at, report_id) IN
                (SELECT i.kind, i.value, OLD.reporter, OLD.received_at, OLD.id FROM report_identifiers AS i WHERE i.report_id = OLD.id);
        END""",  # noqa: E501 (frozen text)
        """CREATE TRIGGER entity_reports_status AFTER UPDATE OF status ON reports
        WHEN OLD.status IS NOT NEW.status AND OLD.reporter IS NEW.reporter
            AND OLD.received_at IS NEW.received_at AND OLD.target_type IS NEW.target_type BEGIN
            UPDATE entity_reports SET status = NEW.status
            WHERE (kind, value, reporter, received_at, report_id) IN (SELECT i.kind, i.value, NEW.reporter, NEW.received_at, NEW.id FROM report_identifiers AS i WHERE i.report_id = NEW.id);
        END""",  # noqa: E501 (frozen text)
        # Anything else that changes what triage counts: out under the old key, back in
        # under the new, so the stats triggers see both.
        """CREATE TRIGGER entity_reports_refile
        AFTER UPDATE OF reporter, target_type, received_at ON reports
        WHEN OLD.reporter IS NOT NEW.reporter OR OLD.target_type IS NOT NEW.target_type
            OR OLD.received_at IS NOT NEW.received_at BEGIN
            DELETE FROM entity_reports WHERE (kind, value, reporter, received_at, report_id) IN
                (SELECT i.kind, i.value, OLD.reporter, OLD.received_at, OLD.id FROM report_identifiers AS i WHERE i.report_id = OLD.id);
            INSERT OR IGNORE INTO entity_reports
            SELECT i.kind, i.value, NEW.reporter, NEW.received_at, NEW.id, NEW.status,
                NEW.target_type
            FROM report_identifiers AS i WHERE i.report_id = NEW.id;
        END""",  # noqa: E501 (frozen text)
        """CREATE TRIGGER entity_stats_insert AFTER INSERT ON entity_reports BEGIN
            INSERT INTO entity_stats VALUES (
                NEW.kind, NEW.value, 1,
                NOT EXISTS (SELECT 1 FROM entity_reports WHERE kind = NEW.kind
                    AND value = NEW.value AND reporter = NEW.reporter
                    AND report_id != NEW.report_id),
                NEW.received_at, NEW.received_at, (CASE NEW.target_type WHEN 'exchange' THEN 1 WHEN 'ico' THEN 2 WHEN 'wechat_account' THEN 4 WHEN 'payment' THEN 8 WHEN 'app' THEN 16 WHEN 'other' THEN 32 ELSE 32 END))
            ON CONFLICT (kind, value) DO UPDATE SET
                reports = reports + 1,
                reporters = reporters + excluded.reporters,
                first_seen = min(first_seen, excluded.first_seen),
                last_seen = max(last_seen, excluded.last_seen),
                types = types | excluded.types;
        END""",  # noqa: E501 (frozen text)
        # A deletion re-reads only what it may have changed: the reporter's other rows,
        # the last sighting if it was this one, whether another row has its type. The
        # first sighting becomes unknown instead (a purge deletes oldest first: re-reading
        # it every time would read the entity once per deleted report).
        """CREATE TRIGGER entity_stats_delete AFTER DELETE ON entity_reports BEGIN
            UPDATE entity_stats SET
                reports = reports - 1,
                reporters = reporters - NOT EXISTS (SELECT 1 FROM entity_reports
                    WHERE kind = OLD.kind AND value = OLD.value AND reporter = OLD.reporter),
                first_seen = CASE WHEN OLD.received_at > first_seen THEN first_seen END,
                last_seen = CASE WHEN OLD.received_at < last_seen THEN last_seen
                    ELSE coalesce((SELECT max(received_at) FROM entity_reports
                        WHERE kind = OLD.kind AND value = OLD.value), last_seen) END,
                types = CASE WHEN EXISTS (SELECT 1 FROM entity_reports WHERE kind = OLD.kind
                    AND value = OLD.value
                    AND (CASE target_type WHEN 'exchange' THEN 1 WHEN 'ico' THEN 2 WHEN 'wechat_account' THEN 4 WHEN 'payment' THEN 8 WHEN 'app' THEN 16 WHEN 'other' THEN 32 ELSE 32 END) = (CASE OLD.target_type WHEN 'exchange' THEN 1 WHEN 'ico' THEN 2 WHEN 'wechat_account' THEN 4 WHEN 'payment' THEN 8 WHEN 'app' THEN 16 WHEN 'other' THEN 32 ELSE 32 END))
                    THEN types
                    ELSE types & ~(CASE OLD.target_type WHEN 'exchange' THEN 1 WHEN 'ico' THEN 2 WHEN 'wechat_account' THEN 4 WHEN 'payment' THEN 8 WHEN 'app' THEN 16 WHEN 'other' THEN 32 ELSE 32 END) END
            WHERE kind = OLD.kind AND value = OLD.value;
            DELETE FROM entity_stats
            WHERE kind = OLD.kind AND value = OLD.value AND reports <= 0;
        END""",  # noqa: E501 (frozen text)
        # Triage totals read only these: counts by status and type (a range per pair),
        # and distinct reporters (in reporter order: counted as read, no temporary B-tree).
        "CREATE INDEX reports_by_type ON reports (status, target_type, received_at)",
        "CREATE INDEX reports_by_reporter_status ON reports (reporter, received_at, status)",
    )),
    Migration("0007_export_columns", (
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
    )),
    Migration("0008_entity_index", (
        # Triage's entity tables are brought up to date in bulk (db/entities.py) by whoever
        # reads them or files in bulk, no longer by a trigger per identifier filed: those
        # cost the chat ~45 us a message and the import a third of its time. Everything
        # filed so far is indexed: the triggers kept it so.
        #
        # entity_index: reports with an id up to indexed_to are in the tables; above it,
        # not yet. entity_pending: reports at or below it to index again (an identifier
        # added later, a refiled report); their rows left the tables when they changed.
        """CREATE TABLE entity_index (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            indexed_to INTEGER NOT NULL
        )""",
        "INSERT INTO entity_index VALUES (1, (SELECT coalesce(max(id), 0) FROM reports))",
        "CREATE TABLE entity_pending (report_id INTEGER PRIMARY KEY)",
        "DROP TRIGGER entity_reports_insert",
        "DROP TRIGGER entity_stats_insert",
        """CREATE TRIGGER entity_pending_identifier AFTER INSERT ON report_identifiers
        WHEN NEW.report_id <= (SELECT indexed_to FROM entity_index) BEGIN
            INSERT OR IGNORE INTO entity_pending VALUES (NEW.report_id);
        END""",
        # A refiled report's rows leave entity_reports under the old key, as in migration 6
        # (the same opening, repeated); it is indexed again under the new.
        "DROP TRIGGER entity_reports_refile",
        """CREATE TRIGGER entity_reports_refile
        AFTER UPDATE OF reporter, target_type, received_at ON reports
        WHEN OLD.reporter IS NOT NEW.reporter OR OLD.target_type IS NOT NEW.target_type
            OR OLD.received_at IS NOT NEW.received_at BEGIN
            DELETE FROM entity_reports WHERE (kind, value, reporter, received_at, report_id) IN
                (SELECT i.kind, i.value, OLD.reporter, OLD.received_at, OLD.id FROM report_identifiers AS i WHERE i.report_id = OLD.id);
            INSERT OR IGNORE INTO entity_pending SELECT NEW.id
            WHERE NEW.id <= (SELECT indexed_to FROM entity_index);
        END""",  # noqa: E501 (frozen text)
        # Ids are max(id) + 1: once the newest reports are deleted, their ids come back,
        # and must then count as not yet indexed.
        """CREATE TRIGGER entity_index_deleted AFTER DELETE ON reports BEGIN
            UPDATE entity_index SET indexed_to = (SELECT coalesce(max(id), 0) FROM reports)
            WHERE indexed_to > (SELECT coalesce(max(id), 0) FROM reports);
            DELETE FROM entity_pending WHERE report_id = OLD.id;
        END""",
        # reports_by_reporter_status (reporter, received_at, status) serves every query
        # this one did: one index less to write per report filed.
        "DROP INDEX reports_by_reporter",
    )),
    Migration("0009_drop_identifiers_by_value", (
        # entity_reports is keyed by (kind, value) too, and `tipline show` now counts the
        # reports naming an identifier from it (db/cases.py). Each filed identifier wrote a
        # page of this index at random: at a million reports, 40% of an import's writing.
        "DROP INDEX identifiers_by_value",
    )),
    Migration("0010_entity_sweep", (
        # A big backlog (an import's) is indexed in key order, not report by report
        # (db/entities.py, "sweep"): the reports in (indexed_to, sweep_to] are taken in
        # for every entity up to (swept_kind, swept_value), one range of keys per
        # transaction, so each page of triage's tables is written about once. sweep_to
        # is NULL when no sweep is under way; sweep_serial counts the sweeps begun, so a
        # process that staged rows for one never takes part in the next with them.
        "ALTER TABLE entity_index ADD COLUMN sweep_to INTEGER",
        "ALTER TABLE entity_index ADD COLUMN sweep_serial INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE entity_index ADD COLUMN swept_kind TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE entity_index ADD COLUMN swept_value TEXT NOT NULL DEFAULT ''",
        # A report of the sweep that changes while it runs is left to the re-index that
        # follows it (entity_pending), as one already indexed is: what the sweep staged
        # of it is stale. A deleted one stays there as a mark (its id cannot come back
        # while newer reports exist) so that the sweep skips it.
        # max(indexed_to, coalesce(sweep_to, 0)): reports up to there may have rows in
        # triage's tables, indexed or being swept (the bound is repeated in each trigger).
        "DROP TRIGGER entity_pending_identifier",
        """CREATE TRIGGER entity_pending_identifier AFTER INSERT ON report_identifiers
        WHEN NEW.report_id <= (SELECT max(indexed_to, coalesce(sweep_to, 0)) FROM entity_index) BEGIN
            INSERT OR IGNORE INTO entity_pending VALUES (NEW.report_id);
        END""",  # noqa: E501 (frozen text)
        """CREATE TRIGGER entity_sweep_identifier_gone AFTER DELETE ON report_identifiers
        WHEN OLD.report_id > (SELECT indexed_to FROM entity_index)
            AND OLD.report_id <= (SELECT max(indexed_to, coalesce(sweep_to, 0)) FROM entity_index) BEGIN
            INSERT OR IGNORE INTO entity_pending VALUES (OLD.report_id);
        END""",  # noqa: E501 (frozen text)
        """CREATE TRIGGER entity_sweep_status AFTER UPDATE OF status ON reports
        WHEN OLD.status IS NOT NEW.status AND NEW.id > (SELECT indexed_to FROM entity_index)
            AND NEW.id <= (SELECT max(indexed_to, coalesce(sweep_to, 0)) FROM entity_index) BEGIN
            INSERT OR IGNORE INTO entity_pending VALUES (NEW.id);
        END""",
        "DROP TRIGGER entity_reports_refile",
        """CREATE TRIGGER entity_reports_refile
        AFTER UPDATE OF reporter, target_type, received_at ON reports
        WHEN OLD.reporter IS NOT NEW.reporter OR OLD.target_type IS NOT NEW.target_type
            OR OLD.received_at IS NOT NEW.received_at BEGIN
            DELETE FROM entity_reports WHERE (kind, value, reporter, received_at, report_id) IN
                (SELECT i.kind, i.value, OLD.reporter, OLD.received_at, OLD.id FROM report_identifiers AS i WHERE i.report_id = OLD.id);
            INSERT OR IGNORE INTO entity_pending SELECT NEW.id
            WHERE NEW.id <= (SELECT max(indexed_to, coalesce(sweep_to, 0)) FROM entity_index);
        END""",  # noqa: E501 (frozen text)
        "DROP TRIGGER entity_index_deleted",
        """CREATE TRIGGER entity_index_deleted AFTER DELETE ON reports BEGIN
            UPDATE entity_index SET
                indexed_to = min(indexed_to, (SELECT coalesce(max(id), 0) FROM reports)),
                sweep_to = min(sweep_to, (SELECT coalesce(max(id), 0) FROM reports));
            DELETE FROM entity_pending WHERE report_id = OLD.id OR report_id > (SELECT coalesce(max(id), 0) FROM reports);
            INSERT OR IGNORE INTO entity_pending SELECT OLD.id FROM entity_index
            WHERE OLD.id > indexed_to AND OLD.id <= sweep_to;
        END""",  # noqa: E501 (frozen text)
    )),
    Migration("0011_evidence_reading", (
        # What the reader read from each image, beside the evidence row it belongs to.
        "ALTER TABLE evidence ADD COLUMN read_status TEXT",
        "ALTER TABLE evidence ADD COLUMN read_text TEXT",
        "ALTER TABLE evidence ADD COLUMN phash INTEGER",
        "ALTER TABLE evidence ADD COLUMN read_at INTEGER",
        """CREATE TABLE read_jobs (
            evidence_id INTEGER PRIMARY KEY REFERENCES evidence (id) ON DELETE CASCADE,
            attempts INTEGER NOT NULL DEFAULT 0,
            due_at INTEGER NOT NULL,
            claimed_by TEXT,
            claimed_until INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )""",
        "CREATE INDEX read_jobs_due ON read_jobs (due_at)",
        """CREATE TABLE evidence_identifiers (
            evidence_id INTEGER NOT NULL REFERENCES evidence (id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            raw TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('qr', 'ocr')),
            PRIMARY KEY (evidence_id, kind, value)
        ) WITHOUT ROWID""",
        # An identifier read from an image names the evidence it came from (NULL: the text).
        "ALTER TABLE report_identifiers ADD COLUMN evidence_id INTEGER",
        "CREATE INDEX evidence_phash ON evidence (phash) WHERE phash IS NOT NULL",
        # Evidence read while its report was still a draft joins the report when filed.
        """CREATE TRIGGER evidence_identifiers_filed AFTER UPDATE OF report_id ON evidence
        WHEN NEW.report_id IS NOT NULL AND OLD.report_id IS NOT NEW.report_id BEGIN
            INSERT OR IGNORE INTO report_identifiers (report_id, kind, value, raw, evidence_id)
            SELECT NEW.report_id, kind, value, raw, evidence_id FROM evidence_identifiers
            WHERE evidence_id = NEW.id;
        END""",
        # The export's identifiers column follows identifiers added or taken off by reading.
        """CREATE TRIGGER identifiers_text_read AFTER INSERT ON report_identifiers
        WHEN NEW.evidence_id IS NOT NULL BEGIN
            UPDATE reports SET identifiers_text = (SELECT group_concat(kind || ':' || value, '; ')
                FROM (SELECT kind, value FROM report_identifiers WHERE report_id = NEW.report_id
                      ORDER BY kind, value)) WHERE id = NEW.report_id;
        END""",
        """CREATE TRIGGER identifiers_text_unread AFTER DELETE ON report_identifiers
        WHEN OLD.evidence_id IS NOT NULL BEGIN
            UPDATE reports SET identifiers_text = (SELECT group_concat(kind || ':' || value, '; ')
                FROM (SELECT kind, value FROM report_identifiers WHERE report_id = OLD.report_id
                      ORDER BY kind, value)) WHERE id = OLD.report_id;
        END""",
    )),
    Migration("0012_console", (
        # Console accounts: an argon2id hash, a TOTP secret, the last TOTP step used (a
        # code works once), and when the credentials were last set (older sessions die).
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('investigator', 'admin')),
            password_hash TEXT NOT NULL,
            totp_secret TEXT NOT NULL,
            totp_last_step INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            credentials_at INTEGER NOT NULL,
            disabled_at INTEGER
        )""",
        # A session is known by the SHA-256 of its cookie's token, never the token itself.
        """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            lang TEXT NOT NULL DEFAULT 'zh',
            address TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            seen_at INTEGER NOT NULL,
            revoked_at INTEGER
        )""",
        "CREATE INDEX sessions_user ON sessions (user_id)",
        """CREATE TABLE login_failures (
            scope TEXT NOT NULL,
            at INTEGER NOT NULL
        )""",
        "CREATE INDEX login_failures_scope ON login_failures (scope, at)",
        # Who did what, when, from where: views, evidence files, exports, logins, changes.
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '',
            address TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
            SELECT RAISE(ABORT, 'the audit log is append-only');
        END""",
        """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
            SELECT RAISE(ABORT, 'the audit log is append-only');
        END""",
        # "Assigned to me" without a pass over every report.
        "CREATE INDEX reports_assignee ON reports (assignee) WHERE assignee IS NOT NULL",
    )),
    Migration("0013_feedback", (
        # Who can be told what: the OpenID sealed (AES-GCM, TIPLINE_CONTACT_KEY), kept only
        # while a report is open or a question pending, and 30 days after the last closes.
        """CREATE TABLE contacts (
            reporter TEXT PRIMARY KEY,
            sealed_openid BLOB,
            last_message_at INTEGER NOT NULL,
            window_sent INTEGER NOT NULL DEFAULT 0,
            stopped_at INTEGER,
            refused_at INTEGER,
            keep_until INTEGER
        ) WITHOUT ROWID""",
        # What to tell a reporter: a report's new status, or an investigator's question.
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            report_id INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('status', 'question')),
            body TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            due_at INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            via TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            claimed_by TEXT,
            claimed_until INTEGER NOT NULL DEFAULT 0,
            settled_at INTEGER,
            last_error TEXT
        )""",
        "CREATE INDEX outbox_due ON outbox (state, due_at)",
        "CREATE INDEX outbox_report ON outbox (report_id)",
        """CREATE TABLE questions (
            id INTEGER PRIMARY KEY,
            report_id INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
            asked_at INTEGER NOT NULL,
            text TEXT NOT NULL,
            answered_at INTEGER
        )""",
        "CREATE INDEX questions_open ON questions (report_id) WHERE answered_at IS NULL",
        # Queued in the transaction of the history entry, whoever writes it (CLI, console):
        # a change cannot exist unqueued. Only the latest status of a report waits; a
        # report is pushed at most once a minute.
        """CREATE TRIGGER outbox_status AFTER INSERT ON report_history
        WHEN NEW.action = 'status' BEGIN
            UPDATE outbox SET state = 'superseded', settled_at = NEW.at
            WHERE report_id = NEW.report_id AND kind = 'status' AND state = 'pending'
                AND claimed_until <= NEW.at;
            INSERT INTO outbox (report_id, kind, body, created_at, due_at)
            SELECT NEW.report_id, 'status', status, NEW.at, max(NEW.at, coalesce(
                (SELECT max(settled_at) + 60 FROM outbox
                 WHERE report_id = NEW.report_id AND via IN ('custom', 'template')), 0))
            FROM reports WHERE id = NEW.report_id;
        END""",
        """CREATE TRIGGER outbox_question AFTER INSERT ON report_history
        WHEN NEW.action = 'question' BEGIN
            INSERT INTO outbox (report_id, kind, body, created_at, due_at)
            VALUES (NEW.report_id, 'question', NEW.detail, NEW.at, NEW.at);
            INSERT INTO questions (report_id, asked_at, text)
            VALUES (NEW.report_id, NEW.at, NEW.detail);
        END""",
        # The reporter's last open report closes: their OpenID is kept 30 days more.
        """CREATE TRIGGER contacts_last_report_closed AFTER UPDATE OF status ON reports
        WHEN NEW.status IN ('dismissed', 'closed') AND OLD.status NOT IN ('dismissed', 'closed')
        BEGIN
            UPDATE contacts SET keep_until = NEW.updated_at + 30 * 86400
            WHERE reporter = NEW.reporter AND NOT EXISTS (
                SELECT 1 FROM reports WHERE reporter = NEW.reporter
                AND status NOT IN ('dismissed', 'closed'));
        END""",
    )),
    Migration("0014_draft_sweep", (
        # Abandoned drafts are swept by age (housekeeping, purge) without a scan of every
        # conversation: the age of the draft a state holds, indexed where there is one.
        """CREATE INDEX conversations_by_draft_age ON conversations (
            coalesce(json_extract(state, '$.draft.updated_at'),
                     json_extract(state, '$.draft.started_at')))
            WHERE json_extract(state, '$.draft') IS NOT NULL""",
        "CREATE INDEX evidence_by_sha256 ON evidence (sha256) WHERE sha256 IS NOT NULL",
        # Evidence files no row uses any more, to be removed once the deletion committed
        # (a row deleted by a swept draft, a cancel, a purge, a cascade, whoever deletes it).
        """CREATE TABLE evidence_trash (
            sha256 TEXT PRIMARY KEY,
            queued_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TRIGGER evidence_file_unused AFTER DELETE ON evidence
        WHEN OLD.sha256 IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM evidence WHERE sha256 = OLD.sha256) BEGIN
            INSERT OR IGNORE INTO evidence_trash (sha256, queued_at)
            VALUES (OLD.sha256, CAST(strftime('%s', 'now') AS INTEGER));
        END""",
    )),
    Migration("0015_watchlist_aliases", (
        # An entry's aliases as written (a JSON list), for `tipline watchlist list`; NULL
        # for entries imported before: their alias match keys are listed instead.
        "ALTER TABLE watchlist ADD COLUMN aliases TEXT",
    )),
)


def schema_version(db: sqlite_utils.Database) -> int:
    """Return the number of the last migration applied."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database) -> int:
    """Apply pending migrations in one transaction; return how many were applied."""
    if schema_version(db) >= len(MIGRATIONS):
        return 0
    with write_transaction(db):
        # Re-read under the lock: another worker process may have migrated meanwhile.
        current = schema_version(db)
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"database schema {current} is newer than this Tipline ({len(MIGRATIONS)})"
            )
        for migration in MIGRATIONS[current:]:
            for statement in migration.statements:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    return len(MIGRATIONS) - current
