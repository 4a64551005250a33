"""Sharing one statement among the requests waiting for the same kind of work at one moment.

A short statement costs the database (and the worker) far more to send, start and commit than
to handle one more row, and on a small machine concurrent statements mostly compete for its
cores. A `Batcher` runs its work through a few lanes: an item submitted while a lane is free
runs at the loop's next turn (with any submitted in the same turn); items submitted while every
lane is busy wait, and the next free lane takes all of them (up to `batch`) into one call.
Under a trickle nothing waits; under a burst the queue drains in batches (docs/benchmarks.md,
Visits).

Items that must not run together (say, two writes to one household) share a key: an item whose
key is in a running batch waits for that batch. If a batch fails, each of its items is run
again alone, so an error reaches only the item that caused it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class _Waiting(Generic[T, R]):
    item: T
    keys: tuple[Hashable, ...]
    answer: asyncio.Future[R] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _no_keys(item: object) -> Iterable[Hashable]:
    return ()


class Batcher(Generic[T, R]):
    def __init__(
        self,
        run: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        name: str,
        lanes: int,
        batch: int,
        keys: Callable[[T], Iterable[Hashable]] = _no_keys,
    ) -> None:
        """`run` answers one result per item, in order."""
        self._run = run
        self.name = name
        self._lanes = max(1, lanes)
        self._batch = max(1, batch)
        self._keys = keys
        self._waiting: deque[_Waiting[T, R]] = deque()
        self._busy_lanes = 0
        self._running_keys: set[Hashable] = set()
        self._lane_tasks: set[asyncio.Task[None]] = set()
        # Calls of `run`, items through them, and batches that failed (then run item by item).
        self.calls = self.items = self.failed_batches = 0

    @property
    def waiting(self) -> int:
        """Items waiting for a lane now."""
        return len(self._waiting)

    async def submit(self, item: T) -> R:
        """`run`'s result for this item, once its batch has run."""
        waiting: _Waiting[T, R] = _Waiting(item, tuple(self._keys(item)))
        # Retrieved even when nobody awaits it any more (the client went away), so that an
        # error is not reported as never retrieved.
        waiting.answer.add_done_callback(lambda answer: answer.cancelled() or answer.exception())
        self._waiting.append(waiting)
        if self._busy_lanes < self._lanes:
            self._busy_lanes += 1
            lane = asyncio.create_task(self._drain())
            self._lane_tasks.add(lane)  # held: the loop keeps only weak references to tasks
            lane.add_done_callback(self._lane_tasks.discard)
        # Shielded: an item whose caller went away still runs (a write then stands, as it would
        # had the answer been lost on the way back), and its batch is unaffected.
        return await asyncio.shield(waiting.answer)

    async def _drain(self) -> None:
        try:
            while batch := self._take():
                try:
                    await self._run_batch(batch)
                finally:
                    for waiting in batch:
                        self._running_keys.difference_update(waiting.keys)
                        if not waiting.answer.done():  # the lane was cancelled (shutdown)
                            waiting.answer.cancel()
        finally:
            self._busy_lanes -= 1

    def _take(self) -> list[_Waiting[T, R]]:
        """What this lane runs next: the waiting items in arrival order, skipping those whose
        key is in a running batch (they stay first in line)."""
        batch: list[_Waiting[T, R]] = []
        skipped: list[_Waiting[T, R]] = []
        while self._waiting and len(batch) < self._batch:
            waiting = self._waiting.popleft()
            if self._running_keys.intersection(waiting.keys):
                skipped.append(waiting)
                continue
            self._running_keys.update(waiting.keys)
            batch.append(waiting)
        self._waiting.extendleft(reversed(skipped))
        return batch

    async def _run_batch(self, batch: Sequence[_Waiting[T, R]]) -> None:
        try:
            results = await self._call([waiting.item for waiting in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} {self.name}")
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0].answer, error=error)
                return
            self.failed_batches += 1
            log.warning(
                "a batch of %d %s failed (%r); running each alone", len(batch), self.name, error
            )
            for waiting in batch:
                try:
                    (result,) = await self._call([waiting.item])
                except Exception as own_error:
                    _settle(waiting.answer, error=own_error)
                else:
                    _settle(waiting.answer, result=result)
            return
        for waiting, result in zip(batch, results, strict=True):
            _settle(waiting.answer, result=result)

    async def _call(self, items: Sequence[T]) -> Sequence[R]:
        self.calls += 1
        self.items += len(items)
        return await self._run(items)


def _settle(
    answer: asyncio.Future[R], *, result: R | None = None, error: BaseException | None = None
) -> None:
    if answer.done():
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)  # type: ignore[arg-type]
