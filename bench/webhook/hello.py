"""The baseline: an aiohttp hello-world POST server, run beside Tipline in the same benchmark."""

from __future__ import annotations

import sys

from aiohttp import web


async def hello(request: web.Request) -> web.Response:
    """Read the body and answer a fixed text, as cheaply as aiohttp allows."""
    await request.read()
    return web.Response(text="hello")


def main() -> None:
    """Serve on the port given as the only argument."""
    app = web.Application()
    app.router.add_post("/wechat", hello)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
