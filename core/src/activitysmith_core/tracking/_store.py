"""What is kept on disk: undelivered final states and pushes, and the host's "API is down" mark.

Everything lives in a private per-user folder (0700, files 0600) and is bound to one account:
the base URL and a fingerprint of the key. Only a sender with the same binding reads or
delivers an entry, so one user's or account's runs never reach another's phones.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("activitysmith_core.tracking")

_FORMAT = 1


@dataclass(frozen=True)
class Binding:
    """An account as seen from here: the base URL and a one-way fingerprint of the key."""

    base_url: str
    key_fingerprint: str

    @property
    def id(self) -> str:
        return hashlib.sha256(f"{self.base_url}\n{self.key_fingerprint}".encode()).hexdigest()[:24]


def fingerprint(api_key: str) -> str:
    """A one-way fingerprint of an API key: tells accounts apart, reveals nothing."""
    return hashlib.sha256(b"activitysmith-key\n" + api_key.encode()).hexdigest()[:32]


def binding_of(client: Any) -> Binding:
    """The binding of an ActivitySmith client."""
    known = getattr(client, "key_fingerprint", None)
    if not isinstance(known, str):
        known = fingerprint(client._headers()["Authorization"].removeprefix("Bearer "))
    return Binding(str(client.base_url), known)


def default_state_dir() -> str:
    """``$ACTIVITYSMITH_STATE_DIR``, else ``$XDG_STATE_HOME/activitysmith``, else
    ``~/.local/state/activitysmith``, else a per-user folder in the temp directory."""
    configured = os.environ.get("ACTIVITYSMITH_STATE_DIR")
    if configured:
        return configured
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg:
        return os.path.join(xdg, "activitysmith")
    home = os.path.expanduser("~")
    if home and home != "~" and os.access(home, os.W_OK):
        return os.path.join(home, ".local", "state", "activitysmith")
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    return os.path.join(tempfile.gettempdir(), f"activitysmith-{uid}")


def private_dir(path: str) -> str | None:
    """Create ``path`` (0700) or check an existing one is ours and private; None when not."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            raise OSError(f"{path} is not a folder")
        if hasattr(os, "getuid"):
            if info.st_uid != os.getuid():
                raise OSError(f"{path} belongs to another user")
            if info.st_mode & 0o077:
                os.chmod(path, 0o700)
        return path
    except OSError as exc:
        logger.warning("ActivitySmith: not keeping undelivered states in %s: %s", path, exc)
        return None


class KeptStore:
    """Final states and pushes that could not be delivered, for one binding."""

    def __init__(
        self,
        root: str | None,
        binding: Binding,
        *,
        max_items: int = 100,
        max_age: float = 24 * 3600.0,
    ) -> None:
        self.binding = binding
        self.max_items = max_items
        self.max_age = max_age
        self.dir: str | None = None
        if root and max_items > 0 and private_dir(root) and private_dir(os.path.join(root, "kept")):
            self.dir = private_dir(os.path.join(root, "kept", binding.id))
        self._mark = os.path.join(root, f"down-{binding.id}") if root and self.dir else None

    # -- entries --------------------------------------------------------------------------------
    def keep_final(self, key: str, put: dict[str, Any], end: dict[str, Any]) -> None:
        # A later final state of the same stream replaces an earlier one.
        name = "final-" + hashlib.sha256(key.encode()).hexdigest()[:24]
        self._write(name, {"kind": "final", "key": key, "put": put, "end": end})

    def keep_push(self, body: dict[str, Any]) -> None:
        self._write(
            f"push-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}", {"kind": "push", "body": body}
        )

    def _write(self, name: str, entry: dict[str, Any]) -> None:
        if not self.dir:
            return
        entry |= {
            "format": _FORMAT,
            "base_url": self.binding.base_url,
            "key_fingerprint": self.binding.key_fingerprint,
            "created": time.time(),
        }
        try:
            self._trim(self.max_items - 1)
            tmp = os.path.join(self.dir, f".{name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            os.replace(tmp, os.path.join(self.dir, name + ".json"))
        except OSError as exc:
            logger.warning(
                "ActivitySmith: could not keep an undelivered %s: %s", entry["kind"], exc
            )

    def _names(self) -> list[str]:
        if not self.dir:
            return []
        try:
            return sorted(n for n in os.listdir(self.dir) if n.endswith(".json"))
        except OSError:
            return []

    def _trim(self, limit: int) -> None:
        names = self._names()
        by_age = sorted(names, key=lambda n: self._mtime(n))
        for name in by_age[: max(0, len(names) - max(limit, 0))]:
            logger.warning("ActivitySmith: dropping the oldest kept entry (%s): store full", name)
            self._remove(os.path.join(self.dir or "", name))

    def _mtime(self, name: str) -> float:
        try:
            return os.stat(os.path.join(self.dir or "", name)).st_mtime
        except OSError:
            return 0.0

    def count(self) -> int:
        return len(self._names())

    def claim(self, limit: int = 20) -> list[tuple[str, dict[str, Any]]]:
        """Take up to ``limit`` entries of this binding for delivery (finals first); each is
        renamed so that no other process delivers it too. Expired entries are dropped."""
        found: list[tuple[str, dict[str, Any]]] = []
        now = time.time()
        self._reclaim_abandoned(now)
        names = sorted(self._names(), key=lambda n: (not n.startswith("final-"), n))
        for name in names:
            if len(found) >= limit:
                break
            path = os.path.join(self.dir or "", name)
            claimed = f"{path}.claimed-{os.getpid()}-{uuid.uuid4().hex[:6]}"
            try:
                os.rename(path, claimed)
                os.utime(claimed)  # the claim's age, not the entry's: see _reclaim_abandoned
            except OSError:
                continue  # another process took it
            try:
                with open(claimed, encoding="utf-8") as fh:
                    entry = json.load(fh)
            except (OSError, ValueError):
                self._remove(claimed)
                continue
            if (
                entry.get("base_url") != self.binding.base_url
                or entry.get("key_fingerprint") != self.binding.key_fingerprint
            ):
                self.release(claimed)  # never delivered by another account
                continue
            if now - float(entry.get("created", 0)) > self.max_age:
                logger.warning("ActivitySmith: dropping an expired kept %s", entry.get("kind"))
                self._remove(claimed)
                continue
            found.append((claimed, entry))
        return found

    def _reclaim_abandoned(self, now: float, after: float = 60.0) -> None:
        """Put back entries claimed by a process that died before delivering them."""
        if not self.dir:
            return
        try:
            names = [n for n in os.listdir(self.dir) if ".json.claimed-" in n]
        except OSError:
            return
        for name in names:
            path = os.path.join(self.dir, name)
            try:
                if now - os.stat(path).st_mtime > after:
                    self.release(path)
            except OSError:
                continue

    @staticmethod
    def release(claimed: str) -> None:
        with contextlib.suppress(OSError):
            os.rename(claimed, claimed.split(".claimed-", 1)[0])

    @staticmethod
    def _remove(path: str) -> None:
        with contextlib.suppress(OSError):
            os.remove(path)

    done = _remove

    # -- the host-wide "API is down" mark -------------------------------------------------------
    def down_until(self) -> float:
        """Wall-clock time until which another process on this host found the API down."""
        if not self._mark:
            return 0.0
        try:
            with open(self._mark, encoding="utf-8") as fh:
                return float(fh.read().strip() or 0)
        except (OSError, ValueError):
            return 0.0

    def mark_down(self, until: float) -> None:
        if not self._mark:
            return
        with contextlib.suppress(OSError):
            tmp = f"{self._mark}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"{until:.3f}")
            os.replace(tmp, self._mark)

    def mark_up(self) -> None:
        if self._mark and os.path.exists(self._mark):
            self._remove(self._mark)
