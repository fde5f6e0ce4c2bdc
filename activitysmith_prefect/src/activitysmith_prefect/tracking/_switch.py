"""The off switch: ``ACTIVITYSMITH_DISABLED``, read at each flow run's start.

A platform team turns tracking off without a code change: set in a deployment's ``job_variables``
(``env``), a work pool's base job template or a worker's environment, it stops every tracker,
``activitysmith_hooks(...)``, ``track(...)`` and group of the runs that start after it: a
disabled run sends nothing and starts nothing (no client, no event subscription, no group
writer). A run already going when the switch changes keeps going as it started.
"""

from __future__ import annotations

import os

ENV = "ACTIVITYSMITH_DISABLED"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def disabled() -> bool:
    """Whether tracking is switched off now; ``ValueError`` naming the variable for a value
    that is neither true/1/yes/on nor false/0/no/off (or empty)."""
    value = os.environ.get(ENV, "")
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{ENV}: {value!r} is not one of true, 1, yes, on, false, 0, no, off")
