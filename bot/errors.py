"""What can go wrong with an inbound request, by the HTTP answer it gets.

    WebhookError
    ├── Forbidden    403: signature, timestamp or nonce check failed; nothing is stored
    └── BadRequest   400: the request is malformed (XML, fields, encryption)
"""

from __future__ import annotations


class WebhookError(Exception):
    """A request the webhook refuses; `status` is the HTTP answer."""

    status = 400


class Forbidden(WebhookError):
    """The request failed verification."""

    status = 403


class BadRequest(WebhookError):
    """The request is malformed."""

    status = 400
