"""The W3C test service of docs/interop.md, both server patterns.

The harness POSTs a JSON list of ``{"url": ..., "arguments": [...]}``; the
service calls each url back with its own trace context, as the official
conformance suite (w3c/trace-context, test/) expects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

import asynctrace


async def _call_back(request: web.Request) -> web.Response:
    actions: list[dict[str, Any]] = await request.json()
    async with aiohttp.ClientSession() as http:
        for action in actions:
            async with asynctrace.span("callback", kind="tool", url=action["url"]):
                headers = asynctrace.inject({})
                async with http.post(action["url"], json=action["arguments"], headers=headers) as r:
                    await r.read()
    return web.json_response(None)


def collector_per_request(trace_dir: Path) -> web.Application:
    """Each request is a file of its caller's trace: ``collector(parent=extract(...))``."""

    async def handle(request: web.Request) -> web.Response:
        parent = asynctrace.extract(request.headers)
        async with (
            asynctrace.collector(parent=parent, trace_dir=trace_dir),
            asynctrace.span("handle", kind="run"),
        ):
            return await _call_back(request)

    app = web.Application()
    app.router.add_post("/test", handle)
    return app


def one_collector() -> web.Application:
    """Served inside one open collector (see ``serve``); each request's root
    span continues its caller's trace with ``span(..., parent=...)``."""

    async def handle(request: web.Request) -> web.Response:
        parent = asynctrace.extract(request.headers)
        async with asynctrace.span("handle", kind="run", parent=parent):
            return await _call_back(request)

    app = web.Application()
    app.router.add_post("/test", handle)
    return app


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run *app* on 127.0.0.1 (a free port) for the block; yields its /test url.

    Handlers run in the context current here, so a collector opened around
    this block is the one their spans go to.
    """
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}/test"
    finally:
        await runner.cleanup()
