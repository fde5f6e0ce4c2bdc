"""ActivitySmith's delivery as Prefect events: a real flow whose deliveries fail, against the
sandbox, emits ``activitysmith.delivery.failed`` / ``.kept`` naming its flow run, read back from
the real Prefect server; the account's signals become ``activitysmith.account.*``."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

from activitysmith_core.sandbox import Faults
from activitysmith_core.tracking import Signal, emit, subscribe
from activitysmith_prefect import activitysmith_hooks
from activitysmith_prefect.tracking import EVENTS, delivery_events


def _events(names: list[str], flow_run_id: object, want: set[str]) -> list[Any]:
    """The events named ``names`` related to the flow run, once each of ``want`` is there (they
    reach the server through Prefect's events worker), or what there is after 60 s."""
    event_filter = EventFilter(
        event=EventNameFilter(name=names),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
    )
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while True:
            found = list(client.read_events(filter=event_filter, limit=50).events)
            if want <= {e.event for e in found} or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


@task
def step(i: int) -> int:
    return i


@flow(name="delivery-fails", **activitysmith_hooks(deadline=2, interval=0.2, time_left=False))
def delivery_fails() -> int:
    return sum(step(i) for i in range(2))


@pytest.mark.parametrize(
    ("faults", "status"),
    [(Faults(error_rate=1.0, status=503), "503"), (Faults(drop_rate=1.0), None)],
    ids=["503", "dropped"],
)
def test_a_failed_delivery_emits_prefect_events(
    prefect_sandbox: Any, faults: Faults, status: str | None
) -> None:
    prefect_sandbox.set_faults(faults)
    state = delivery_fails(return_state=True)
    assert state.is_completed(), "a delivery problem never fails the flow"
    flow_run_id = state.state_details.flow_run_id
    assert prefect_sandbox.requests, "the tracker tried"
    assert not any(r.status == 200 for r in prefect_sandbox.requests), "nothing was delivered"
    assert len(delivery_events) == 0, "nothing kept for the run once it ended"

    failed, kept = EVENTS["failed"], EVENTS["kept"]
    found = _events([failed, kept], flow_run_id, {failed, kept})
    by_name = {e.event: e for e in found}
    assert set(by_name) == {failed, kept}, [e.event for e in found]
    event = by_name[failed]
    print("event:", event.event, dict(event.resource), event.payload)
    assert event.payload["kind"] in {"update", "final"}
    if status is not None:
        assert event.payload["status"] == status
    else:  # nothing answered: the error's class
        assert event.payload["status"] and not event.payload["status"].isdigit()
    assert event.resource.id.startswith("activitysmith.stream.")
    print("related:", [dict(r) for r in event.related])
    with get_client(sync_client=True) as client:
        flow_id = client.read_flow_run(flow_run_id).flow_id
    assert [(r.role, r.id) for r in event.related] == [
        ("flow-run", f"prefect.flow-run.{flow_run_id}"),
        ("flow", f"prefect.flow.{flow_id}"),
    ], "the run and its flow, nothing else"
    assert event.related[1].get("prefect.resource.name") == "delivery-fails"
    assert by_name[kept].payload == {"kind": "final"}, "the final state kept for a later run"


def test_a_refused_key_and_its_recovery_are_account_events(prefect_sandbox: Any) -> None:
    """A real flow whose key the API refuses (401): ``activitysmith.account.problem`` naming
    that run; once the key is valid again, the next run's request that finds it accepting
    emits ``activitysmith.account.ok`` naming the next run."""
    from activitysmith_core import ActivitySmith
    from activitysmith_core.tracking import Sender

    sender = Sender.for_client(ActivitySmith())  # the flows' account (from the environment)
    sender.configure(  # its probe while the account refuses soon, not in 30 s
        request_timeout=sender.request_timeout,
        deadline=sender.deadline,
        keep=True,
        max_kept=sender.store.max_items,
        max_kept_age=sender.store.max_age,
        account_probe=0.5,
    )
    prefect_sandbox.set_faults(Faults(refuse=401))
    refused = delivery_fails(return_state=True)
    assert refused.is_completed(), "a refused key never fails the flow"
    assert any(r.status == 401 for r in prefect_sandbox.requests), "the tracker tried"
    problem, ok = EVENTS["account_problem"], EVENTS["account_ok"]
    first = refused.state_details.flow_run_id
    (event,) = [e for e in _events([problem], first, {problem}) if e.event == problem]
    assert event.payload == {"status": "401"}
    assert event.resource.id == "activitysmith.account"
    assert event.related[0].id == f"prefect.flow-run.{first}"

    prefect_sandbox.set_faults(Faults())
    time.sleep(0.6)
    accepted = delivery_fails(return_state=True)
    assert accepted.is_completed()
    second = accepted.state_details.flow_run_id
    found = [e for e in _events([ok], second, {ok}) if e.event == ok]
    assert len(found) == 1, found
    assert sender.account_refuses is None
    assert found[0].related[0].id == f"prefect.flow-run.{second}"


def test_account_signals_and_unrelated_ones(prefect_server: str) -> None:
    """The sender's account signals (emitted here as it emits them) become the account's events,
    naming the run whose request met the problem; signals that need no action emit nothing."""
    flow_run_id = uuid.uuid4()
    stream = f"prefect-etl-{flow_run_id.hex[:8]}"
    delivery_events.follow(stream, flow_run_id, "brave-otter")
    try:
        before = delivery_events.emitted
        emit(Signal("sent", "update", stream=stream))
        emit(Signal("flush", value=0.3))
        assert delivery_events.emitted == before, "no event for a delivery that went well"
        emit(Signal("account_problem", detail="402", stream=stream))
        emit(Signal("account_ok", stream=stream))
        assert delivery_events.emitted == before + 2
    finally:
        delivery_events.forget(stream)
    assert delivery_events.related(stream) == []

    problem, ok = EVENTS["account_problem"], EVENTS["account_ok"]
    found = {e.event: e for e in _events([problem, ok], flow_run_id, {problem, ok})}
    assert set(found) == {problem, ok}
    assert found[problem].payload == {"status": "402"}
    assert found[problem].resource.id == "activitysmith.account"
    (related,) = found[problem].related
    assert related.id == f"prefect.flow-run.{flow_run_id}" and related.role == "flow-run"
    assert related.get("prefect.resource.name") == "brave-otter"


def test_the_map_of_streams_is_bounded() -> None:
    from activitysmith_prefect.tracking._delivery_events import MAX_FOLLOWED, DeliveryEvents

    events = DeliveryEvents()
    for i in range(MAX_FOLLOWED + 10):
        events.follow(f"s{i}", i, "r")
    subscribe(events)()  # subscribed by its first run: unsubscribe it again
    assert len(events) == MAX_FOLLOWED
    assert events.related("s0") == [] and events.related(f"s{MAX_FOLLOWED + 9}")
