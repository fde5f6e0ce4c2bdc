"""The off switch: ``ACTIVITYSMITH_DISABLED``, read at each flow run's start.

A platform team turns tracking off without a code change: set in a deployment's ``job_variables``
(``env``), a work pool's base job template or a worker's environment, it stops every tracker,
``activitysmith_hooks(...)``, ``track(...)`` and group of the runs that start after it: a
disabled run sends nothing and starts nothing (no client, no event subscription, no group
writer). A run already going when the switch changes keeps going as it started.
"""

from __future__ import annotations

import os

from activitysmith_core import parse_flag

ENV = "ACTIVITYSMITH_DISABLED"


def disabled() -> bool:
    """Whether tracking is switched off now; ``ValueError`` naming the variable for a value
    that is neither true/1/yes/on nor false/0/no/off (or empty)."""
    return parse_flag(os.environ.get(ENV, ""), field=ENV)
