"""The account's known state: accepting requests, or refusing them (401, 402, 403) since when.

A refused key or a blocked account is not an outage: retrying changes nothing and every run
would log it again. So the first refusal of an episode logs one ERROR naming the status and
what to do, and emits ``account_problem``; while the account refuses, the sender holds and
sends one request per ``probe_every`` seconds (the next job it has) to learn when it accepts
again; the first success logs that, and emits ``account_ok``. Thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time

from ._signals import Signal, emit

logger = logging.getLogger("activitysmith_core.tracking")

PROBE_EVERY = 30.0
REFUSALS = (401, 402, 403)


def _advice(status: int, upgrade_url: str | None) -> str:
    if status == 401:
        return (
            "the API key is invalid or revoked: create a new key in ActivitySmith and update "
            "the Airflow connection / Prefect block that holds it"
        )
    if status == 402:
        where = f" ({upgrade_url})" if upgrade_url else ""
        return f"the account is blocked for billing: upgrade or renew it{where}"
    return "the API key lacks permission for these requests: check its channels and scope"


class Account:
    """Whether one account accepts this process's requests, and when to probe it again."""

    def __init__(self, probe_every: float = PROBE_EVERY) -> None:
        self.probe_every = probe_every
        self._lock = threading.Lock()
        self._status: int | None = None
        self._since = 0.0
        self._probe_at = 0.0

    @property
    def refuses(self) -> int | None:
        """The status the account refuses with (401, 402, 403), None when it accepts."""
        return self._status

    def wait(self, now: float) -> float:
        """Seconds until a request may go: 0 when the account accepts or a probe is due."""
        with self._lock:
            return 0.0 if self._status is None else max(0.0, self._probe_at - now)

    def sending(self, now: float) -> None:
        """A request goes: while refused it is the probe, and the next waits its interval."""
        with self._lock:
            if self._status is not None:
                self._probe_at = now + self.probe_every

    def refused(
        self, status: int, upgrade_url: str | None = None, stream: str | None = None
    ) -> None:
        """The account refused a request (about ``stream``): the first refusal of an episode
        logs and signals, naming that stream."""
        with self._lock:
            first = self._status is None
            self._status = status
            self._probe_at = time.monotonic() + self.probe_every
            if first:
                self._since = time.time()
        if first:
            logger.error(
                "ActivitySmith: the account refuses requests (HTTP %d) since %s: %s. Holding "
                "delivery (updates dropped, final states and pushes kept) and trying again "
                "every %.0f s.",
                status,
                time.strftime("%H:%M:%S", time.localtime(self._since)),
                _advice(status, upgrade_url),
                self.probe_every,
            )
            emit(Signal("account_problem", detail=str(status), stream=stream))

    def accepted(self, stream: str | None = None) -> bool:
        """A request (about ``stream``) got through: True when that ends a refusal (logged and
        signalled, naming that stream)."""
        with self._lock:
            status, self._status = self._status, None
        if status is None:
            return False
        logger.warning(
            "ActivitySmith: the account accepts requests again (refused with %d since %s)",
            status,
            time.strftime("%H:%M:%S", time.localtime(self._since)),
        )
        emit(Signal("account_ok", detail=str(status), stream=stream))
        return True
