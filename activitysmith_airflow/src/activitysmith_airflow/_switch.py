"""The off switch: ``[activitysmith] disabled``, read at each run's start, no restart needed.

A platform team turns tracking off for the whole deployment without a code deploy: declared
trackers, the tag listener and groups all start nothing new while it is on. Airflow reads its
configuration file once per process, so the switch is looked up where a change can reach a
running scheduler: the environment variable ``AIRFLOW__ACTIVITYSMITH__DISABLED`` first, then the
``[activitysmith]`` section of ``airflow.cfg``, parsed again only when the file changed (one
``stat`` a call), then the configuration Airflow loaded.
"""

from __future__ import annotations

import configparser
import logging
import os
import threading

from activitysmith_core import parse_flag

log = logging.getLogger("activitysmith_airflow.tracking")

_ENV = "AIRFLOW__ACTIVITYSMITH__DISABLED"
_cache: tuple[str, float, bool | None] | None = None
_last: bool | None = None
_lock = threading.Lock()


def _parse(value: str, where: str) -> bool:
    return parse_flag(value, field="[activitysmith] disabled", source=where)


def _from_file(path: str) -> bool | None:
    """The file's ``[activitysmith] disabled``, or None where it does not say (cached by mtime)."""
    global _cache
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return None
    with _lock:
        if _cache is not None and _cache[0] == path and _cache[1] == mtime:
            return _cache[2]
        parser = configparser.RawConfigParser(strict=False)
        try:
            parser.read(path, encoding="utf-8")
            raw = parser.get("activitysmith", "disabled", fallback=None)
        except configparser.Error:
            raw = None
        value = None if raw is None else _parse(raw, path)
        _cache = (path, mtime, value)
        return value


def _lookup() -> bool:
    env = os.environ.get(_ENV)
    if env is not None:
        return _parse(env, _ENV)
    from airflow.configuration import AIRFLOW_CONFIG, conf

    found = _from_file(AIRFLOW_CONFIG)
    if found is not None:
        return found
    return conf.getboolean("activitysmith", "disabled", fallback=False)


def disabled() -> bool:
    """Whether tracking is switched off now (for a run about to start); a change is logged once."""
    global _last
    value = _lookup()
    if value != _last:
        if value or _last is not None:
            log.info(
                "ActivitySmith: tracking is switched %s by [activitysmith] disabled",
                "off" if value else "on again",
            )
        _last = value
    return value
