"""File reports the way the conversation does, so investigator tests start from real data.

Identifiers come from triage.extract with names under their match key (as
handlers.report files them), and reports go in through db.reports.SqlStore.file_report in
one transaction, so every trigger that keeps triage's tables runs as it does in the server.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from bot.cli import cli
from db.connection import connect
from db.migrations import migrate
from db.reports import SqlStore
from handlers.store import NewReport
from triage.extract import extract
from triage.normalise import match_key
from triage.vocabulary import display_receipt as display
from triage.vocabulary import new_receipt

DAY = 86400


class Desk:
    """A tip line's database with reports filed at chosen times by chosen reporters."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path
        self.db = connect(db_path)
        migrate(self.db)
        self.now = int(time.time())
        self.filed = 0

    def file(self, who: str, *, reporter: str = "p_alice", target_type: str = "exchange",
             days_ago: float = 0, description: str = "群里推荐USDT理财，提不了现。",
             at: int | None = None) -> str:
        """File one report naming what `who` names; return its receipt as shown (XXXXX-XXXXX)."""
        self.filed += 1
        receipt = new_receipt(bits=self.filed * 7919)
        identifiers = tuple(
            (i.kind, match_key(i.value) or i.value if i.kind == "name" else i.value, i.raw)
            for i in extract(who)
        )
        assert identifiers, f"nothing to file in {who!r}"
        filed_at = at if at is not None else self.now - int(days_ago * DAY)
        self.db.execute("BEGIN IMMEDIATE")
        SqlStore(self.db).file_report(NewReport(
            receipt=receipt, reporter=reporter, draft_id=f"draft-{self.filed}",
            target_type=target_type, who=who, description=description,
            identifiers=identifiers, lang="zh", filed_at=filed_at,
        ))
        self.db.execute("COMMIT")
        return display(receipt)

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the database directly, as an auditor would."""
        return [tuple(row) for row in self.db.execute(sql, params).fetchall()]


def tipline(db_path: Path, *args: str, input: str | None = None) -> Result:
    """Run `tipline --db DB ARGS…` in-process through click's runner."""
    result = CliRunner().invoke(cli, ["--db", str(db_path), *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.output, result.exception)
    return result
