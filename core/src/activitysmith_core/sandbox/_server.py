"""The sandbox's ASGI server: the API (``_app``) behind its fault switches, the admin
endpoints, the live event stream and the preview page."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ._app import ASGI, STATIC, Api, Scope
from ._state import (
    Faults,
    RecordedRequest,
    State,
    now_iso,
)


def _drop_connection(receive: Any) -> bool:
    """Close the TCP connection without a response (uvicorn's cycle owns the transport)."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    transport.abort() if hasattr(transport, "abort") else transport.close()
    return True


def build_app(state: State, api_key: str) -> ASGI:
    """The ASGI app: API under /api, admin under /_sandbox, the preview page at /."""
    api = Api(state, api_key)

    async def admin_requests(request: Request) -> Response:
        with state.lock:
            return JSONResponse([r.to_dict() for r in state.requests])

    async def admin_state(request: Request) -> Response:
        return JSONResponse(state.snapshot())

    async def admin_faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                state.set_faults(Faults.from_dict(await request.json()))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": "Bad request", "message": str(exc)}, 400)
        from dataclasses import asdict

        return JSONResponse(asdict(state.faults))

    async def admin_reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"success": True})

    async def events(request: Request) -> Response:
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def listener() -> None:
            loop.call_soon_threadsafe(wake.set)

        async def stream() -> AsyncIterator[str]:
            state.listeners.append(listener)
            try:
                yield "retry: 1000\n\n"
                while True:
                    yield f"event: snapshot\ndata: {json.dumps(state.snapshot())}\n\n"
                    wake.clear()
                    try:
                        await asyncio.wait_for(wake.wait(), timeout=15)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                    await asyncio.sleep(0.05)  # coalesce bursts into one event
            finally:
                state.listeners.remove(listener)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def api_route(request: Request) -> Response:
        return await api.dispatch(request)

    starlette = Starlette(
        routes=[
            Route("/", index),
            Route("/_sandbox/requests", admin_requests),
            Route("/_sandbox/state", admin_state),
            Route("/_sandbox/faults", admin_faults, methods=["GET", "POST"]),
            Route("/_sandbox/reset", admin_reset, methods=["POST"]),
            Route("/_sandbox/events", events),
            Mount("/static", StaticFiles(directory=STATIC)),
            Route("/api/{path:path}", api_route, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            faults = state.faults
            if faults.down or state.draw(faults.drop_rate):
                with state.lock:
                    state.requests.append(
                        RecordedRequest(
                            scope["method"],
                            scope["path"],
                            {},
                            None,
                            time.monotonic(),
                            now_iso(),
                            fault="down" if faults.down else "drop",
                        )
                    )
                if _drop_connection(receive):
                    return
        await starlette(scope, receive, send)

    return app
