"""An access log that is safe to keep: method, path, status, time; never the query string.

WeChat puts the sender's OpenID in the query string (`openid=…`), so aiohttp's default
access log would write every reporter's identity to disk.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from triage.inert import inert


class SafeAccessLogger(AbstractAccessLogger):
    """Log one line per request without the query string."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Write `POST /wechat 200 1.2ms` for one request."""
        # The raw path, not the decoded one (%0A would start a forged line), made inert,
        # bounded, and without its query.
        path = inert(request.raw_path.split("?", 1)[0])[:200]
        self.logger.info("%s %s %d %.1fms", inert(request.method)[:16], path, response.status,
                         time * 1000)
