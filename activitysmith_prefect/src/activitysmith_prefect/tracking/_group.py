"""Flow runs of one group share one activity, written by one flow-run process at a time.

A run is in a group by the tracker's ``group`` option or by the tag
``activitysmith-group:<name>`` (a deployment's tags, ``with tags(...)``). A process with a
running member keeps one writer thread per group, which

- tags the run with the group's tag when the option declared it, so that every process finds
  it (one request);
- tries for the group's lease: a Prefect global concurrency limit of one slot named after the
  tag, held with a lease (Prefect's shortest, ``LEASE_SECONDS``, renewed every
  ``RENEW_EVERY``) — one writer at a time across processes and hosts, a dead writer's lease
  expires;
- while it holds it, reads the group's runs started in the last ``HORIZON`` seconds (one request
  every ``TICK`` seconds, one more for flows it has not named yet), splits them into windows
  (:func:`activitysmith_core.tracking.windows`) and draws the latest one.

When the process's last run of the group ends, its writer ends the window if every run of it
has ended, else releases the lease for a member still running elsewhere, which takes over
within a tick. Of two runs that end close together in two processes, the one that ended last
(by the server's end times) ends the window: the other leaves it to that run's process (a
run's state is final on the server before its hooks run), so the window is ended once.
Nothing of ours outlives the runs in Prefect, so a window ends with its last run rather than
``group_linger`` after it; a run starting within ``group_linger`` of that end joins the same
window (the same stream key: the activity comes back with every run's segment).
Groups need an API shared by the processes: a Prefect server or Prefect Cloud.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from activitysmith_core.tracking import (
    Engine,
    GroupMember,
    RunStatus,
    TrackerOptions,
    group_options,
    group_state,
    windows,
)

from ._history import prefect_client, within
from ._states import FINAL_TYPES, TAG, flow_run_status, kind, timestamp

log = logging.getLogger("activitysmith_prefect.tracking")

LEASE_SECONDS = 60.0
"""The group lease's duration: Prefect's shortest. A writer that dies is replaced within it
(plus the server's repossessor loop)."""

RENEW_EVERY = 20.0
REPOSSESSED_WITHIN = LEASE_SECONDS + 45.0
"""Seconds after which a dead writer's lease is free again at the latest (its duration, the
server's repossessor loop, 15 s by default, and a margin)."""
TICK = 2.0
"""Seconds between two passes of a writer: one read of the group's runs when it holds the
lease, one attempt at the lease when it does not."""

SETTLE = 5.0
"""A window is first drawn once its first run started this long ago: by then every run that
started before it has been tagged, so the window's start, its stream key, does not move."""

HORIZON = 3 * 86_400.0
"""Seconds of the group's runs read back: the current window and the one before it (a nightly
group)."""

LAST_ENDS_IT = 30.0
"""Seconds after the end of the window's last run during which another process leaves the
window's end to that run's process (whose final hook is on its way); past them it ends it."""

READ_LIMIT = 200
_BANNED = str.maketrans({c: "_" for c in "/%&<>"})


def limit_name(group: str) -> str:
    """The global concurrency limit that is the group's lease (Prefect forbids ``/%&<>``)."""
    return (TAG + group).translate(_BANNED)


def shared_api() -> bool:
    """Whether runs in other processes share this process's Prefect API (not an ephemeral one)."""
    try:
        from prefect.settings import get_current_settings

        return bool(get_current_settings().api.url)
    except Exception:
        return False


def _member(flow_run: Any, name: str) -> GroupMember | None:
    started = timestamp(getattr(flow_run, "start_time", None))
    if started is None:
        return None
    state = getattr(flow_run, "state", None)
    final = kind(state) in FINAL_TYPES
    status = flow_run_status(state) if final else RunStatus.RUNNING
    ended = timestamp(getattr(flow_run, "end_time", None)) if final else None
    return GroupMember(
        name, str(flow_run.id), status, started, ended or (started if final else None)
    )


class GroupWriter:
    """This process's writer of one group (see the module): a daemon thread while any of the
    process's runs of the group runs."""

    def __init__(self, name: str, options: TrackerOptions, client_factory: Any) -> None:
        self.name = name
        self.tag = TAG + name
        self.limit = limit_name(name)
        self.linger = options.group_linger
        self.title = options.title or name
        self.engine = Engine(client_factory, group_options(replace(options, group=name)))
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._runs: dict[str, Any] = {}  # flow run id -> flow run, running in this process
        self._ended: dict[str, tuple[RunStatus, float]] = {}  # runs ended here: how, when
        self._passing = threading.Lock()  # one pass at a time: the lease is held once
        self._tagged: set[str] = set()
        self._names: dict[str, str] = {}  # flow id -> flow name
        self._lease: UUID | None = None
        self._renewed = 0.0
        self._limit_ready = False
        self._thread: threading.Thread | None = None
        self._drawn: str | None = None
        self._failing = False

    def __repr__(self) -> str:
        return f"GroupWriter(name={self.name!r}, runs={len(self._runs)}, holds={self.holds})"

    @property
    def holds(self) -> bool:
        return self._lease is not None

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._runs)

    # -- the runs of this process ------------------------------------------------------------
    def join(self, flow_run: Any) -> None:
        """A run of the group started here (no network I/O on the caller's thread)."""
        with self._lock:
            self._runs[str(flow_run.id)] = flow_run
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name=f"activitysmith-group-{self.name}", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def leave(self, flow_run_id: object, status: RunStatus, budget: float) -> bool:
        """A run of the group ended here; when it was the process's last, end the window (every
        run of it ended) or hand the lease over, within ``budget`` seconds. True when this was
        the process's last run of the group."""
        run_id = str(flow_run_id)
        with self._lock:
            self._runs.pop(run_id, None)
            self._ended[run_id] = (status, time.time())
            last = not self._runs
        if last:
            self._wake.set()
            within(budget, self._last_pass)
        return last

    # -- the writer's thread ------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._runs:
                    self._thread = None
                    return
            try:
                with self._passing:
                    self._pass()
                self._failing = False
            except Exception as exc:
                # Once per stretch of failures: the API may be down for a while.
                (log.debug if self._failing else log.warning)(
                    "ActivitySmith: group %s: pass skipped (%r)", self.name, exc
                )
                self._failing = True
            self._wake.wait(TICK)
            self._wake.clear()

    def _pass(self) -> None:
        client = prefect_client()
        self._tag_runs(client)
        if not self._hold(client):
            return
        members = self._members(client)
        with self._lock:
            if not self._runs:
                return  # the last run's end draws the window's end
            local = set(self._runs)
        if not local <= {m.run_id for m in members}:
            return  # our own runs not read back yet
        found = windows(members, self.linger)
        window = found[-1]
        previous = found[-2] if len(found) > 1 else None
        state = group_state(
            "prefect", self.name, window, previous, status=RunStatus.RUNNING, title=self.title
        )
        if self._drawn != state.run_id and time.time() - window.started_at < SETTLE:
            return
        self._drawn = state.run_id
        self.engine.update(state)

    def _last_pass(self) -> None:
        with self._passing:
            self._end_or_hand_over(prefect_client())

    def _end_or_hand_over(self, client: Any) -> bool:
        """End the window if every run of it has ended, else hand it over; False when another
        process holds the lease (it writes the window, and ends it)."""
        try:
            if not self._hold(client):
                return False
            members = self._members(client)
            if not members:
                return True
            found = windows(members, self.linger)
            window = found[-1]
            last, ended_at = window.last, window.ended_at
            if last is None or ended_at is None:
                log.info(
                    "ActivitySmith: group %s: handing its window over to a run still running",
                    self.name,
                )
                return True
            with self._lock:
                ours = last.run_id in self._ended
            if not ours and time.time() - ended_at < LAST_ENDS_IT:
                log.info(
                    "ActivitySmith: group %s: its window is ended by the run that ended last (%s)",
                    self.name,
                    last.name,
                )
                return True
            state = group_state(
                "prefect", self.name, window, status=window.outcome, title=self.title
            )
            self.engine.finish(state)
            return True
        finally:
            self._release(client)

    def end_when_free(self, flow_run_id: object, status: RunStatus) -> threading.Thread:
        """A run of the group ended outside its process (a Runner or worker reporting a crash):
        its writer may have died holding the lease, so a daemon thread tries for it every
        ``TICK`` seconds, for up to ``REPOSSESSED_WITHIN`` seconds, then ends the window if that
        run was its last (else hands it over). Nothing waits on it."""
        with self._lock:
            self._ended[str(flow_run_id)] = (status, time.time())

        def run() -> None:
            give_up = time.monotonic() + REPOSSESSED_WITHIN
            while time.monotonic() < give_up:
                try:
                    with self._passing:
                        if self._end_or_hand_over(prefect_client()):
                            return
                except Exception as exc:
                    log.debug("ActivitySmith: group %s: end skipped (%r)", self.name, exc)
                time.sleep(TICK)
            log.warning(
                "ActivitySmith: group %s: its window was not ended (its lease stayed held)",
                self.name,
            )

        thread = threading.Thread(target=run, name=f"activitysmith-group-{self.name}", daemon=True)
        thread.start()
        return thread

    # -- the lease -----------------------------------------------------------------------------
    def _hold(self, client: Any) -> bool:
        """Whether this writer holds the group's lease, renewing or trying for it."""
        now = time.monotonic()
        if self._lease is not None:
            if now - self._renewed < RENEW_EVERY:
                return True
            try:
                client.renew_concurrency_lease(self._lease, LEASE_SECONDS)
                self._renewed = now
                return True
            except Exception as exc:
                log.info("ActivitySmith: group %s: lease lost (%s)", self.name, exc)
                self._lease = None
        if not self._limit_ready:
            self._create_limit(client)
        holder = self._holder()
        try:
            response = client.increment_concurrency_slots_with_lease(
                names=[self.limit],
                slots=1,
                mode="concurrency",
                lease_duration=LEASE_SECONDS,
                holder=holder,
            )
        except Exception as exc:
            if getattr(getattr(exc, "response", None), "status_code", None) == 423:
                return False  # another process writes the group
            raise
        self._lease = UUID(str(response.json()["lease_id"]))
        self._renewed = now
        log.info("ActivitySmith: group %s: this process writes its activity", self.name)
        return True

    def _create_limit(self, client: Any) -> None:
        from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
        from prefect.exceptions import ObjectAlreadyExists

        with contextlib.suppress(ObjectAlreadyExists):  # another process made it
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=self.limit, limit=1)
            )
        self._limit_ready = True

    def _holder(self) -> Any:
        from prefect.client.schemas.objects import ConcurrencyLeaseHolder

        with self._lock:
            first = next(iter(self._runs), None) or next(iter(self._ended), None)
        return ConcurrencyLeaseHolder(type="flow_run", id=UUID(first)) if first else None

    def _release(self, client: Any) -> None:
        lease, self._lease = self._lease, None
        if lease is None:
            return
        try:
            client.release_concurrency_slots_with_lease(lease)
        except Exception as exc:
            log.debug("ActivitySmith: group %s: lease left to expire (%s)", self.name, exc)

    # -- the reads -------------------------------------------------------------------------------
    def _tag_runs(self, client: Any) -> None:
        with self._lock:
            untagged = [r for i, r in self._runs.items() if i not in self._tagged]
        for flow_run in untagged:
            tags = list(getattr(flow_run, "tags", None) or [])
            if self.tag not in tags:
                client.update_flow_run(flow_run.id, tags=[*tags, self.tag])
            self._tagged.add(str(flow_run.id))

    def _members(self, client: Any) -> list[GroupMember]:
        """The group's runs started in the last ``HORIZON`` seconds (this process's ended
        runs as they ended here: the server may not have their final state yet)."""
        from prefect.client.schemas.filters import (
            FlowFilter,
            FlowFilterId,
            FlowRunFilter,
            FlowRunFilterStartTime,
            FlowRunFilterTags,
        )
        from prefect.client.schemas.sorting import FlowRunSort

        since = datetime.fromtimestamp(time.time() - HORIZON, tz=timezone.utc)
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[self.tag]),
                start_time=FlowRunFilterStartTime.model_validate({"after_": since}),
            ),
            sort=FlowRunSort.START_TIME_DESC,
            limit=READ_LIMIT,
        )
        unknown = {r.flow_id for r in runs if str(r.flow_id) not in self._names}
        if unknown:
            for found in client.read_flows(
                flow_filter=FlowFilter(id=FlowFilterId(any_=list(unknown)))
            ):
                self._names[str(found.id)] = str(found.name)
        members = []
        with self._lock:
            ended = dict(self._ended)
        for flow_run in runs:
            member = _member(flow_run, self._names.get(str(flow_run.flow_id), str(flow_run.name)))
            if member is None:
                continue
            if member.run_id in ended and member.status is RunStatus.RUNNING:
                status, at = ended[member.run_id]
                member = replace(member, status=status, ended_at=at)
            members.append(member)
        return members


class Writers:
    """This process's group writers, one per tracker and group, dropped when their last run ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writers: dict[tuple[int, str], GroupWriter] = {}

    def join(self, tracker: Any, group: str, flow_run: Any) -> GroupWriter:
        with self._lock:
            key = (id(tracker), group)
            writer = self._writers.get(key)
            if writer is None:
                writer = GroupWriter(group, tracker.options, tracker.client_factory)
                self._writers[key] = writer
        writer.join(flow_run)
        return writer

    def leave(
        self, tracker: Any, group: str, flow_run_id: object, status: RunStatus, budget: float
    ) -> None:
        with self._lock:
            writer = self._writers.get((id(tracker), group))
        if writer is None:
            # A hook run outside the run's process (a Runner reporting a crash or a
            # cancellation): end the window once the lease is free, if that run was its last.
            GroupWriter(group, tracker.options, tracker.client_factory).end_when_free(
                flow_run_id, status
            )
            return
        if writer.leave(flow_run_id, status, budget):
            with self._lock:
                if writer.running == 0 and self._writers.get((id(tracker), group)) is writer:
                    del self._writers[(id(tracker), group)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._writers)


writers = Writers()
"""This process's group writers."""
