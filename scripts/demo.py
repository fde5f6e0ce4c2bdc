"""`make demo`: run the example ETL DAG and flow and show what the phone would show.

Without ACTIVITYSMITH_API_KEY it starts the embedded sandbox on loopback; with it, everything
goes to the real service (ACTIVITYSMITH_BASE_URL optional). Airflow runs with `airflow dags test`
in .demo/airflow (its database is migrated once and reused); Prefect runs the example flow with
a temporary PREFECT_HOME in .demo/prefect.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from activitysmith_core import DEFAULT_BASE_URL
from activitysmith_core.console import render_activity, render_push

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
console = Console(highlight=False)


def _airflow_env(key: str, url: str) -> dict[str, str]:
    home = DEMO / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    conn = {"conn_type": "activitysmith", "password": key, "host": url}
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags_examples" / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_ACTIVITYSMITH_DEFAULT": json.dumps(conn),
        "ACTIVITYSMITH_API_KEY": key,
        "ACTIVITYSMITH_BASE_URL": url,
    }


def _prefect_env(key: str, url: str) -> dict[str, str]:
    home = DEMO / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "ACTIVITYSMITH_API_KEY": key,
        "ACTIVITYSMITH_BASE_URL": url,
    }


def _spawn(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _migrate(env: dict[str, str]) -> None:
    marker = DEMO / "airflow" / ".migrated"
    if marker.exists():
        return
    with console.status("Setting up Airflow's database (once; reused next time)..."):
        airflow = str(ROOT / ".venv-airflow/bin/airflow")
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        # The DAGs are written to the database once here: two `dags test` at once on a fresh
        # database would both insert them.
        subprocess.run([airflow, "dags", "reserialize"], env=env, check=True, capture_output=True)
    marker.touch()


class Watcher:
    """Polls the sandbox's record and prints each new Live Activity update and push."""

    def __init__(self, admin: str | None) -> None:
        self.admin = admin
        self.seen = 0
        self.updates = 0
        self.pushes = 0
        self.streams: set[str] = set()

    def poll(self) -> None:
        if not self.admin:
            return
        try:
            records = httpx.get(f"{self.admin}/_sandbox/requests", timeout=5).json()
        except httpx.HTTPError:
            return
        if isinstance(records, dict):
            records = records.get("requests", [])
        for rec in records[self.seen :]:
            self._show(rec)
        self.seen = len(records)

    def _show(self, rec: dict[str, Any]) -> None:
        path, method = rec.get("path", ""), rec.get("method", "")
        body = rec.get("body") or {}
        status = rec.get("status")
        response = rec.get("response") or {}
        if status and status >= 400:
            console.print(f"[grey50]{method} {path} -> {status}[/]")
            return
        if "/live-activity/stream/" in path:
            key = path.rsplit("/", 1)[-1]
            self.streams.add(key)
            self.updates += 1
            state = body.get("content_state") or {}
            op = str(response.get("operation", "ended" if method == "DELETE" else ""))
            console.print(
                render_activity(state, operation=op, key=key[:40], ended=method == "DELETE")
            )
        elif path.endswith("/push-notification") and method == "POST":
            self.pushes += 1
            console.print(render_push(body))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the sandbox and its page up")
    args = parser.parse_args()
    started = time.monotonic()
    key = os.environ.get("ACTIVITYSMITH_API_KEY")
    sandbox = None
    if key:
        url = os.environ.get("ACTIVITYSMITH_BASE_URL", DEFAULT_BASE_URL)
        console.print(
            f"[bold yellow]ACTIVITYSMITH_API_KEY is set: sending to {url} (your real devices).[/]"
        )
        admin = None
    else:
        from activitysmith_core.sandbox import Sandbox

        key = "sk_sandbox_demo"
        sandbox = Sandbox(api_key=key, host="127.0.0.1", port=_free_port() if args.keep else 0)
        sandbox.start()
        url = sandbox.url
        admin = url.removesuffix("/api")
        console.print(f"[bold]Sandbox[/] on {admin} (no account needed). Preview page: {admin}/")

    airflow_env = _airflow_env(key, url)
    _migrate(airflow_env)
    airflow = str(ROOT / ".venv-airflow/bin/airflow")
    jobs = {
        "Airflow DAG activitysmith_etl": _spawn(
            [airflow, "dags", "test", "activitysmith_etl"], airflow_env
        ),
        "Airflow DAG activitysmith_warehouse (48 tasks, folded)": _spawn(
            [airflow, "dags", "test", "activitysmith_warehouse"], airflow_env
        ),
        "Prefect flow etl_flow": _spawn(
            [
                str(ROOT / ".venv-prefect/bin/python"),
                str(ROOT / "dags_examples/prefect/etl_flow.py"),
            ],
            _prefect_env(key, url),
        ),
    }
    watcher = Watcher(admin)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        tasks = {name: progress.add_task(name) for name in jobs}
        while any(p.poll() is None for p in jobs.values()):
            watcher.poll()
            for name, proc in jobs.items():
                if proc.poll() is not None:
                    progress.update(tasks[name], description=f"{name}: done")
            time.sleep(0.3)
        watcher.poll()
    failed = []
    for name, proc in jobs.items():
        output = proc.stdout.read() if proc.stdout else ""
        if proc.returncode != 0:
            failed.append(name)
            console.print(f"[red]{name} exited {proc.returncode}[/]\n{output[-3000:]}")
    elapsed = time.monotonic() - started
    console.rule("Summary")
    console.print(
        f"runs: {len(jobs)} ({len(jobs) - len(failed)} finished)   "
        f"Live Activities: {len(watcher.streams)}   updates: {watcher.updates}   "
        f"pushes: {watcher.pushes}"
    )
    if admin:
        kept = "" if args.keep else "  (gone when the demo exits; `make demo KEEP=1` keeps it up)"
        console.print(f"Preview page: {admin}/{kept}")
    console.print(f"Total time: {elapsed:.1f} s")
    if sandbox is not None:
        if args.keep:
            console.print("Sandbox kept running (Ctrl-C to stop).")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        sandbox.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
