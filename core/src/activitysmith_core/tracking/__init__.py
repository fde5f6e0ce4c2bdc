"""Run tracking that knows no orchestrator: one engine for both plugins.

A plugin translates its orchestrator's events into :class:`Engine` calls with a
:class:`RunState` (the run's absolute state): ``update`` when it changed, ``step_failed`` with an
error and a log link, ``finish`` when it ended. The engine decides what the Live Activity shows
and which events push; a per-process :class:`Sender` delivers off the caller's thread, paced by
the API's quotas, and :meth:`Engine.flush` is the one call that waits, under one deadline.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._group import (
    GROUP_LINGER,
    GroupMember,
    GroupWindow,
    current_window,
    group_options,
    group_state,
    windows,
)
from ._model import RunState, RunStatus, Step, StepStatus, TrackerOptions
from ._render import (
    SUBTITLE_MAX,
    Failure,
    aggregate,
    content_state,
    deadline_push,
    end_request,
    failure_push,
    first_line,
    run_failure_push,
    segments,
    stream_request,
    success_push,
    timing,
)
from ._signals import SIGNALS, Signal, emit, subscribe

if TYPE_CHECKING:
    from ._engine import Engine
    from ._sender import Sender, SenderStats
    from ._store import Binding, KeptStore, default_state_dir, fingerprint

# Delivery is imported on first use: a DAG file that declares a tracker needs only the options.
_LAZY = {
    "Engine": "._engine",
    "Sender": "._sender",
    "SenderStats": "._sender",
    "Binding": "._store",
    "KeptStore": "._store",
    "default_state_dir": "._store",
    "fingerprint": "._store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "GROUP_LINGER",
    "SIGNALS",
    "SUBTITLE_MAX",
    "Binding",
    "Engine",
    "Failure",
    "GroupMember",
    "GroupWindow",
    "KeptStore",
    "RunState",
    "RunStatus",
    "Sender",
    "SenderStats",
    "Signal",
    "Step",
    "StepStatus",
    "TrackerOptions",
    "aggregate",
    "content_state",
    "current_window",
    "deadline_push",
    "default_state_dir",
    "emit",
    "end_request",
    "failure_push",
    "fingerprint",
    "first_line",
    "group_options",
    "group_state",
    "run_failure_push",
    "segments",
    "stream_request",
    "subscribe",
    "success_push",
    "timing",
    "windows",
]
