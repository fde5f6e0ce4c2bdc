"""Pushes against the sandbox: our sync client vs the official SDK, and our async client at
concurrency 32; with no added latency (1,000 pushes: client and server overhead) and with 20 ms
(300 pushes: a network round trip, where concurrency pays). The sandbox runs in its own process
so the clients do not share its GIL.

    .venv-core/bin/python bench/client_throughput.py [N]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _sandbox import KEY, start_sandbox

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


def ours_sync(url: str) -> float:
    from activitysmith_core import ActivitySmith

    with ActivitySmith(KEY, base_url=f"{url}/api") as client:
        client.notifications.send(title="warm-up")
        t0 = time.perf_counter()
        for i in range(N):
            client.notifications.send(title=f"push {i}", message="bench")
        return time.perf_counter() - t0


def official_sync(url: str) -> float:
    from activitysmith import ActivitySmith

    client = ActivitySmith(api_key=KEY)
    client.notifications._api.api_client.configuration.host = f"{url}/api"
    client.notifications.send(title="warm-up")
    t0 = time.perf_counter()
    for i in range(N):
        client.notifications.send(title=f"push {i}", message="bench")
    return time.perf_counter() - t0


def ours_async(url: str, concurrency: int = 32) -> float:
    from activitysmith_core import AsyncActivitySmith

    async def main() -> float:
        async with AsyncActivitySmith(KEY, base_url=f"{url}/api") as client:
            await client.notifications.send(title="warm-up")
            gate = asyncio.Semaphore(concurrency)

            async def one(i: int) -> None:
                async with gate:
                    await client.notifications.send(title=f"push {i}", message="bench")

            t0 = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(N)))
            return time.perf_counter() - t0

    return asyncio.run(main())


def run(url: str, latency: float, n: int) -> None:
    global N
    N = n
    results = {}
    for name, fn in (
        ("official activitysmith 1.14.0 (sync)", official_sync),
        ("activitysmith-core ActivitySmith (sync)", ours_sync),
        ("activitysmith-core AsyncActivitySmith (32 concurrent)", ours_async),
    ):
        httpx.post(f"{url}/_sandbox/reset")
        httpx.post(f"{url}/_sandbox/faults", json={"latency": latency})
        results[name] = fn(url)
        count = len(httpx.get(f"{url}/_sandbox/requests").json())
        assert count == n + 1, f"{name}: sandbox saw {count} requests"
    base = results["official activitysmith 1.14.0 (sync)"]
    print(f"\n{n} pushes, sandbox latency {latency * 1000:.0f} ms")
    print(f"{'client':58} {'seconds':>8} {'pushes/s':>9} {'vs official':>11}")
    for name, secs in results.items():
        print(f"{name:58} {secs:8.2f} {n / secs:9.0f} {base / secs:10.2f}x")


def main() -> None:
    proc, url = start_sandbox()
    try:
        run(url, 0.0, N)
        run(url, 0.02, max(100, N * 3 // 10))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
