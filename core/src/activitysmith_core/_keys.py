"""Deterministic, readable, collision-resistant stream keys."""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = ["stream_key"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
_HASH_LEN = 10


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _UNSAFE.sub("-", ascii_text).strip("-_").lower()


def stream_key(*parts: object, max_length: int = 255) -> str:
    """Turn arbitrary text (orchestrator, DAG id, run id, ...) into a valid stream key.

    The key matches ``^[A-Za-z0-9_-]{1,255}$``: a readable slug of the parts followed by a hash
    of their exact text, so the same parts always give the same key and different parts (even
    ones that slug alike, such as ``a:b`` and ``a+b``) never share one.
    """
    if not parts:
        raise ValueError("stream_key: at least one part is required")
    if not _HASH_LEN + 1 < max_length <= 255:
        raise ValueError("max_length: must be between 12 and 255")
    raw = "\x1f".join(str(p) for p in parts)
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]
    slug = "_".join(s for s in (_slug(str(p)) for p in parts) if s)
    slug = slug[: max_length - _HASH_LEN - 1].rstrip("-_")
    return f"{slug}-{digest}" if slug else digest
