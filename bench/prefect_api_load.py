"""Requests a flow run makes to the Prefect API, tracked vs untracked, for 12 and 200 tasks.

A real Prefect server (its own process) sits behind a tiny counting proxy on loopback; the
flows run in this process with ``PREFECT_API_URL`` pointing at the proxy, so every HTTP request
(and every event frame sent over the events websocket) of the flow run is counted, Prefect's own
included: the tracker's one event subscription shows as ``WS events/out`` (a websocket opened)
and its two frames (authentication, filter). The ActivitySmith sandbox runs in its own process.

    .venv-prefect/bin/python bench/prefect_api_load.py [RUNS]     (median of RUNS, default 3)
    BENCH_RUNNER=process-pool .venv-prefect/bin/python bench/prefect_api_load.py [RUNS]

``BENCH_RUNNER=process-pool`` runs the tasks on ``ProcessPoolTaskRunner(max_workers=2)``, where
the tracker follows them through its event subscription and reads the task runs at the end.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _sandbox import KEY, free_port, start_sandbox

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
TASK_SECONDS = 0.25
RUNNER = os.environ.get("BENCH_RUNNER", "threads")
HOME = tempfile.mkdtemp(prefix="bench-prefect-api-")


class CountingProxy:
    """Forwards loopback HTTP/1.1 to the Prefect server, counting requests by endpoint and the
    frames a client sends over a websocket (Prefect's events)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.counts: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self._ready = threading.Event()

    def start(self) -> CountingProxy:
        threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True).start()
        self._ready.wait(10)
        return self

    def take(self) -> collections.Counter[str]:
        with self.lock:
            counts, self.counts = self.counts, collections.Counter()
        return counts

    def _count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self._ready.set()
        async with server:
            await server.serve_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        back = asyncio.ensure_future(self._pipe(up_reader, writer))
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                up_writer.write(head)
                if headers.get("upgrade", "").lower() == "websocket":
                    self._count(f"WS {_endpoint(target)}")
                    await self._frames(reader, up_writer)
                    break
                self._count(f"{method} {_endpoint(target)}")
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    await self._pipe(reader, up_writer)  # not parsed further: forward as is
                    break
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    up_writer.write(await reader.readexactly(length))
                await up_writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            up_writer.close()
            await back
            writer.close()

    async def _frames(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Forward websocket frames from the client, counting the data frames."""
        while True:
            head = await reader.readexactly(2)
            opcode, size = head[0] & 0x0F, head[1] & 0x7F
            extra = b""
            if size == 126:
                extra = await reader.readexactly(2)
                size = int.from_bytes(extra, "big")
            elif size == 127:
                extra = await reader.readexactly(8)
                size = int.from_bytes(extra, "big")
            mask = await reader.readexactly(4) if head[1] & 0x80 else b""
            payload = await reader.readexactly(size)
            if opcode in (1, 2):
                self._count("WS frame (events sent)")
            writer.write(head + extra + mask + payload)
            await writer.drain()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


def _endpoint(target: str) -> str:
    """The path with ids replaced, so requests group by endpoint."""
    parts = target.split("?", 1)[0].split("/")
    return "/".join(":id" if len(p) >= 32 and p.count("-") == 4 else p for p in parts if p != "api")


def start_prefect_server() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=HOME,
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    log = open(Path(HOME) / "server.log", "wb")  # noqa: SIM115
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((Path(HOME) / "server.log").read_text()[-3000:])
        time.sleep(0.5)


def _drain() -> None:
    """Send what Prefect's log and event workers still hold for the run, so it is counted."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=10)


def _settle(server_port: int, flow_run_id: object, tasks: int) -> None:
    """Wait (asking the server directly, not through the proxy) until it has recorded every
    task run of the run: its event processing competes for the CPU with the next run."""
    url = f"http://127.0.0.1:{server_port}/api/task_runs/count"
    query = {
        "flow_runs": {"id": {"any_": [str(flow_run_id)]}},
        "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
    }
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if httpx.post(url, json=query, timeout=10).json() >= tasks:
            break
        time.sleep(0.5)
    time.sleep(1.0)


def main() -> None:
    server, server_port = start_prefect_server()
    proxy = CountingProxy(server_port).start()
    sandbox, sandbox_url = start_sandbox()
    os.environ.update(
        PREFECT_HOME=HOME,
        PREFECT_API_URL=f"http://127.0.0.1:{proxy.port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        ACTIVITYSMITH_API_KEY=KEY,
        ACTIVITYSMITH_BASE_URL=f"{sandbox_url}/api",
        ACTIVITYSMITH_STATE_DIR=tempfile.mkdtemp(prefix="bench-state-"),
    )
    from prefect import flow, task

    from activitysmith_prefect import activitysmith_hooks

    @task
    def work(i: int) -> int:
        time.sleep(TASK_SECONDS)
        return i

    def body(n: int) -> int:
        return sum(work.map(range(n)).result())

    def runner() -> object:
        if RUNNER == "process-pool":
            from prefect.task_runners import ProcessPoolTaskRunner

            return ProcessPoolTaskRunner(max_workers=2)
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner()

    flows = {
        "untracked": flow(name="api-load-untracked", task_runner=runner())(body),  # type: ignore[arg-type]
        "tracked": flow(
            name="api-load-tracked",
            task_runner=runner(),  # type: ignore[arg-type]
            **activitysmith_hooks(),
        )(body),
    }
    try:
        state = flows["untracked"](2, return_state=True)  # warm up: a first run loads more
        _drain()
        _settle(server_port, state.state_details.flow_run_id, 2)
        proxy.take()
        print(
            f"Prefect API requests per flow run (a real Prefect server behind a counting proxy),"
            f" tasks of {TASK_SECONDS:g} s mapped on {RUNNER}, median of {RUNS}"
        )
        print(
            f"{'tasks':>5} {'tracker':>9} {'run s':>6} {'HTTP requests':>13} {'per minute':>10} "
            f"{'event frames':>12} {'ActivitySmith requests':>22}"
        )
        details: dict[tuple[int, str], collections.Counter[str]] = {}
        sizes = (12, 200) if RUNNER == "threads" else (12, 40)
        for n in sizes:
            results: dict[str, tuple[list[float], list[int], list[int], list[int]]] = {
                name: ([], [], [], []) for name in flows
            }
            for _ in range(RUNS):  # interleaved, so that both see the same server load
                for name, fn in flows.items():
                    seconds, requests, frames, sent = results[name]
                    httpx.post(f"{sandbox_url}/_sandbox/reset")
                    t0 = time.perf_counter()
                    state = fn(n, return_state=True)
                    seconds.append(time.perf_counter() - t0)
                    _drain()
                    counts = proxy.take()
                    _settle(server_port, state.state_details.flow_run_id, n)
                    details[(n, name)] = counts
                    frames.append(counts.pop("WS frame (events sent)", 0))
                    requests.append(sum(counts.values()))
                    sent.append(len(httpx.get(f"{sandbox_url}/_sandbox/requests").json()))
            for name, (seconds, requests, frames, sent) in results.items():
                run_s, reqs = statistics.median(seconds), statistics.median(requests)
                print(
                    f"{n:>5} {name:>9} {run_s:6.2f} {reqs:13.0f} {reqs / run_s * 60:10.0f} "
                    f"{statistics.median(frames):12.0f} {statistics.median(sent):22.0f}"
                )
        for n in sizes:
            extra = details[(n, "tracked")] - details[(n, "untracked")]
            fewer = details[(n, "untracked")] - details[(n, "tracked")]
            print(
                f"{n} tasks, last run, tracked minus untracked by endpoint: "
                f"{dict(extra) or 'none'}; untracked minus tracked: {dict(fewer) or 'none'}"
            )
        print(
            f"endpoints of an untracked {sizes[1]}-task run:",
            dict(details[(sizes[1], "untracked")]),
        )
        from activitysmith_prefect.tracking import registry

        subscription = registry.subscription
        print(
            f"event subscription: {subscription.connections} connections for "
            f"{2 * RUNS} tracked flow runs, {subscription.events} events received, "
            f"open after the last run: {subscription.open}"
        )
    finally:
        sandbox.terminate()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
