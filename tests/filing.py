"""Reports filed the way reporters file them: the real conversation code on a real database.

No HTTP here (tests/test_conversation.py covers the wire); the messages go through
handlers.dispatcher.dispatch with the SQLite store, exactly as the engine calls it.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path

from bot.pseudonym import pseudonymiser
from db.connection import connect
from db.migrations import migrate
from db.reports import SqlStore
from handlers.dispatcher import dispatch
from handlers.messages import Inbound
from tests.conftest import SECRET
from triage.evidence import evidence_path

RECEIPT = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")
_MSG_IDS = itertools.count(50_000_000_000)


class Reporter:
    """One WeChat user filing reports through the conversation, at times the test picks."""

    def __init__(self, db_path: Path, openid: str = "o_alice", now: int = 1_717_200_000
                 ) -> None:
        self.db = connect(db_path)
        migrate(self.db)
        self.store = SqlStore(self.db)
        self.openid = openid
        self.sender = pseudonymiser(SECRET)(openid)
        self.state: dict[str, object] = {}
        self.now = now

    def send(self, kind: str = "text", **fields: object) -> str:
        """Send one message (a few seconds after the last) and return the reply text."""
        self.now += 5
        inbound = Inbound(kind, self.sender, self.now, msg_id=next(_MSG_IDS), **fields)  # type: ignore[arg-type]
        return dispatch(inbound, self.state, self.now, self.store).text

    def say(self, text: str) -> str:
        """Send a text message."""
        return self.send(text=text)

    def file(self, who: str, what: str, target: str = "1", photos: tuple[str, ...] = ()
             ) -> str:
        """File a whole report; return its receipt (compact form)."""
        self.say("举报")
        self.say(target)
        self.say(who)
        self.say(what)
        for media_id in photos:
            self.send("image", media_id=media_id, pic_url=f"http://mmbiz.qpic.cn/{media_id}")
        self.say("完成" if photos else "跳过")
        found = RECEIPT.search(self.say("提交"))
        assert found, "the report was not filed"
        return found.group().replace("-", "")


def fetched(db_path: Path, evidence_dir: Path, media_id: str, content: bytes,
            mime: str = "image/jpeg") -> str:
    """Store a photo's bytes as the media fetcher does and mark its evidence fetched."""
    sha = hashlib.sha256(content).hexdigest()
    path = evidence_path(evidence_dir, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    db = connect(db_path)
    db.execute(
        "UPDATE evidence SET fetch_status = 'fetched', sha256 = ?, size = ?, mime = ?, "
        "fetched_at = received_at WHERE media_id = ?", (sha, len(content), mime, media_id))
    db.conn.close()
    return sha
