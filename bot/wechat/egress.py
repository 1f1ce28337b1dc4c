"""Where a download may go: WeChat's API itself, or WeChat's media hosts on public addresses.

The API answers a video's media id with a URL to fetch, and any answer may redirect: both
come from outside. So every hop but the configured API origin is checked: an https or http
URL on a host in TIPLINE_MEDIA_HOSTS (suffix match: `qq.com` covers `vweixinp.tc.qq.com`),
never an IP literal, and resolved only to global addresses (the resolver drops loopback,
private, link-local and the like, so a name that re-resolves to 127.0.0.1 between check and
connect cannot get through).
"""

from __future__ import annotations

import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL


class OffList(Exception):
    """A download that would leave WeChat's hosts; the message says where it would go."""


class NotPublic(OSError):
    """A media host's name resolved only to addresses that are not public."""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class Egress:
    """The rule for one client: its API origin, and the media hosts beyond it."""

    def __init__(self, api_base: str, media_hosts: tuple[str, ...]) -> None:
        base = URL(api_base)
        self.api_origin = (base.scheme, base.host, base.explicit_port or base.port)
        self.media_hosts = media_hosts  # lower-case, without dots at the ends (bot.config)

    def is_api(self, url: URL) -> bool:
        """Whether `url` is on the configured API origin (trusted as configured)."""
        return (url.scheme, url.host, url.explicit_port or url.port) == self.api_origin

    def check(self, url: URL) -> None:
        """Raise OffList unless a download may go to `url`."""
        if self.is_api(url):
            return
        host = (url.host or "").lower().rstrip(".")
        if url.scheme not in ("http", "https") or not host:
            raise OffList(f"not a web address ({url.scheme or 'no scheme'})")
        if _is_ip(host):
            raise OffList(f"an IP address ({host}), not one of WeChat's media hosts")
        if not any(host == allowed or host.endswith("." + allowed)
                   for allowed in self.media_hosts):
            raise OffList(f"{host} is not one of WeChat's media hosts")

    def resolver(self) -> AbstractResolver:
        """A resolver for the client's session that resolves off-API names to public IPs only."""
        api_host = self.api_origin[1] or ""
        return PublicResolver(trusted=api_host)


class PublicResolver(AbstractResolver):
    """Resolves names to global addresses only (the API's own host is left as configured)."""

    def __init__(self, trusted: str) -> None:
        self.trusted = trusted.lower()
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """The host's addresses, without any that are not global."""
        found = await self._inner.resolve(host, port, family)
        if host.lower() == self.trusted:
            return found
        public = [entry for entry in found if ipaddress.ip_address(entry["host"]).is_global]
        if not public:
            raise NotPublic(f"{host} resolves only to addresses that are not public")
        return public

    async def close(self) -> None:
        """Close the inner resolver."""
        await self._inner.close()
