"""Scheduled work for imports: batches left applying by a process that died are marked failed."""

from __future__ import annotations

from .services import recover_interrupted_imports


def recover_interrupted() -> int:
    """Every five minutes: batches whose applying process died are marked failed (nothing was written)."""
    return recover_interrupted_imports()
