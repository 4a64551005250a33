"""Helpers for tests that line up concurrent work: wait for a condition, swap a shared part."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

T = TypeVar("T")


async def until(
    condition: Callable[[], bool], what: str, seconds: float = 5.0, poll: float = 0.005
) -> None:
    """Return once `condition()` holds; fail the test, naming `what`, after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(poll)


@asynccontextmanager
async def swapped(state: Any, name: str, value: T) -> AsyncIterator[T]:
    """`state.<name>` is `value` for the block (say, a one-lane writer in `app.state`)."""
    previous = getattr(state, name)
    setattr(state, name, value)
    try:
        yield value
    finally:
        setattr(state, name, previous)
