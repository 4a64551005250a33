"""The batcher (app/core/batching.py), on its own: no database, a `run` written here.

`Recording.run` notes every call (its items, in order), can be held on an item (the call waits
for that item's event) and made to fail on items; it also notes any two items of one key that
ran in one call or in two calls at once. A test holds the lanes busy, submits what should queue,
then lets go and reads the calls made."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import pytest

from app.core.batching import Batcher
from tests.waiting import until


@pytest.fixture(autouse=True)
def clean_state() -> None:
    """Nothing to reset here: overrides the suite's (tests/conftest.py), which needs PostgreSQL
    and Redis."""


class Boom(Exception):
    pass


class Recording:
    def __init__(
        self,
        *,
        hold: Iterable[Any] = (),
        fail: Iterable[Any] = (),
        keys: Callable[[Any], Iterable[Hashable]] = lambda item: (),
    ) -> None:
        self.holds = {item: asyncio.Event() for item in hold}
        self.fail = set(fail)
        self.keys = keys
        self.calls: list[list[Any]] = []
        self.raised: list[Boom] = []  # every error `run` raised, in order
        self.in_flight: list[list[Any]] = []
        self.most_at_once = 0
        self.key_clashes: list[tuple[list[Any], list[Any]]] = []

    async def run(self, items: Sequence[Any]) -> list[Any]:
        items = list(items)
        self.calls.append(items)
        own = [key for item in items for key in self.keys(item)]
        if len(own) != len(set(own)):
            self.key_clashes.append((items, items))
        for other in self.in_flight:
            if set(own) & {key for item in other for key in self.keys(item)}:
                self.key_clashes.append((items, other))
        self.in_flight.append(items)
        self.most_at_once = max(self.most_at_once, len(self.in_flight))
        try:
            await asyncio.sleep(0)  # every call yields at least once, as a real one does
            for item in items:
                if item in self.holds:
                    await self.holds[item].wait()
            failing = [item for item in items if item in self.fail]
            if failing:
                error = Boom(failing[0])
                self.raised.append(error)
                raise error
            return [("done", item) for item in items]
        finally:
            self.in_flight.remove(items)

    def release(self, item: Any) -> None:
        self.holds[item].set()


def _batcher(recording: Recording, *, lanes: int = 1, batch: int = 8) -> Batcher[Any, Any]:
    return Batcher(recording.run, name="test items", lanes=lanes, batch=batch, keys=recording.keys)


async def _until(condition: Callable[[], bool], what: str) -> None:
    await until(condition, what, seconds=1.0, poll=0)


def _queued(batcher: Batcher[Any, Any]) -> list[Any]:
    """The items waiting for a lane, in line order (the batcher's private queue)."""
    return [waiting.item for waiting in batcher._waiting]


def _submit(batcher: Batcher[Any, Any], *items: Any) -> list[asyncio.Task[Any]]:
    """Submitted in this order, all within the loop's next step."""
    return [asyncio.ensure_future(batcher.submit(item)) for item in items]


def _counted(batcher: Batcher[Any, Any], recording: Recording) -> tuple[int, int, int]:
    """The batcher's counters, checked against the calls `run` saw."""
    assert batcher.calls == len(recording.calls)
    assert batcher.items == sum(len(call) for call in recording.calls)
    return batcher.calls, batcher.items, batcher.failed_batches


async def test_an_item_submitted_to_an_idle_batcher_runs_at_once_alone():
    recording = Recording()
    batcher = _batcher(recording, lanes=1, batch=8)
    assert await asyncio.wait_for(batcher.submit("a"), 1) == ("done", "a")
    assert recording.calls == [["a"]]
    # Idle again: the next one runs at once too, alone.
    assert await asyncio.wait_for(batcher.submit("b"), 1) == ("done", "b")
    assert recording.calls == [["a"], ["b"]]
    assert _counted(batcher, recording) == (2, 2, 0)


async def test_items_submitted_while_the_lane_is_busy_run_together_next_in_arrival_order():
    recording = Recording(hold=["a", "b"])
    batcher = _batcher(recording, lanes=1, batch=3)
    (first,) = _submit(batcher, "a")
    await _until(lambda: len(recording.calls) == 1, "the first call")
    queued = _submit(batcher, *"bcdefgh")
    await _until(lambda: len(_queued(batcher)) == 7, "the items to queue")
    assert recording.calls == [["a"]]  # all wait while the one lane is busy

    recording.release("a")
    await _until(lambda: len(recording.calls) == 2, "the second call")
    assert recording.calls[1] == ["b", "c", "d"]  # the first three, in order
    late = _submit(batcher, "i")  # arrives while the second call runs: behind the others
    await _until(lambda: _queued(batcher) == [*"efghi"], "the late item to queue")

    recording.release("b")
    results = await asyncio.wait_for(asyncio.gather(first, *queued, *late), 1)
    assert results == [("done", item) for item in "abcdefghi"]  # each its own
    assert recording.calls == [["a"], ["b", "c", "d"], ["e", "f", "g"], ["h", "i"]]
    assert _counted(batcher, recording) == (4, 9, 0)


async def test_two_lanes_run_two_calls_at_once_never_more():
    recording = Recording(hold=["a", "b", "c"])
    batcher = _batcher(recording, lanes=2, batch=2)
    held = _submit(batcher, "a")
    await _until(lambda: len(recording.calls) == 1, "the first lane to start")
    held += _submit(batcher, "b")
    await _until(lambda: len(recording.calls) == 2, "the second lane to start")
    assert recording.calls == [["a"], ["b"]]  # each alone: a lane was free for each
    assert recording.most_at_once == 2

    queued = _submit(batcher, "c", "d", "e")
    await _until(lambda: len(_queued(batcher)) == 3, "the items to queue")
    assert len(recording.calls) == 2  # no third lane

    recording.release("a")  # the freed lane takes the next two
    await _until(lambda: len(recording.calls) == 3, "the third call")
    assert recording.calls[2] == ["c", "d"]
    assert _queued(batcher) == ["e"]  # both lanes busy again

    recording.release("b")
    await _until(lambda: len(recording.calls) == 4, "the fourth call")
    assert recording.calls[3] == ["e"]
    recording.release("c")
    results = await asyncio.wait_for(asyncio.gather(*held, *queued), 1)
    assert results == [("done", item) for item in "abcde"]
    assert recording.most_at_once == 2
    assert _counted(batcher, recording) == (4, 5, 0)


async def test_items_sharing_a_key_never_run_together_and_keep_their_place():
    """Items are (name, key). A and C hold the two lanes; D and H share A's key."""
    a, c, d, e, f, g, h = (
        ("a", "k"),
        ("c", "j"),
        ("d", "k"),
        ("e", "m"),
        ("f", "n"),
        ("g", "p"),
        ("h", "k"),
    )
    recording = Recording(hold=[a, c, d, e], keys=lambda item: (item[1],))
    batcher = _batcher(recording, lanes=2, batch=2)
    held = _submit(batcher, a)
    await _until(lambda: len(recording.calls) == 1, "the first lane to start")
    held += _submit(batcher, c)
    await _until(lambda: len(recording.calls) == 2, "the second lane to start")
    queued = _submit(batcher, d, e, f, g, h)
    await _until(lambda: len(_queued(batcher)) == 5, "the items to queue")

    recording.release(c)  # A still runs: D is passed over, and stays first in line
    await _until(lambda: len(recording.calls) == 3, "the third call")
    assert recording.calls[2] == [e, f]
    assert _queued(batcher) == [d, g, h]

    recording.release(a)  # D's key is free: D goes first, ahead of G; H (same key) waits
    await _until(lambda: len(recording.calls) == 4, "the fourth call")
    assert recording.calls[3] == [d, g]
    assert _queued(batcher) == [h]

    recording.release(e)  # the other lane is free, but H's key is still running
    await _until(lambda: len(recording.in_flight) == 1, "the third call to end")
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(recording.calls) == 4
    assert _queued(batcher) == [h]

    recording.release(d)
    results = await asyncio.wait_for(asyncio.gather(*held, *queued), 1)
    assert results == [("done", item) for item in (a, c, d, e, f, g, h)]
    assert recording.calls == [[a], [c], [e, f], [d, g], [h]]
    assert recording.key_clashes == []  # never in one call, never in two at once
    assert _counted(batcher, recording) == (5, 7, 0)


async def test_two_items_of_one_key_submitted_at_once_run_one_after_the_other():
    one, two = ("one", "k"), ("two", "k")
    recording = Recording(hold=[one], keys=lambda item: (item[1],))
    batcher = _batcher(recording, lanes=4, batch=8)
    tasks = _submit(batcher, one, two)
    await _until(lambda: len(recording.calls) == 1, "the first call")
    for _ in range(10):
        await asyncio.sleep(0)
    assert recording.calls == [[one]]  # free lanes, but the key is busy
    recording.release(one)
    assert await asyncio.wait_for(asyncio.gather(*tasks), 1) == [("done", one), ("done", two)]
    assert recording.calls == [[one], [two]]
    assert recording.key_clashes == []


async def test_a_failed_batch_is_run_again_item_by_item():
    recording = Recording(hold=["a"], fail=["c"])
    batcher = _batcher(recording, lanes=1, batch=8)
    (blocker,) = _submit(batcher, "a")
    await _until(lambda: len(recording.calls) == 1, "the first call")
    b, c, d = _submit(batcher, "b", "c", "d")
    await _until(lambda: len(_queued(batcher)) == 3, "the items to queue")
    recording.release("a")
    results = await asyncio.wait_for(asyncio.gather(blocker, b, c, d, return_exceptions=True), 1)

    assert recording.calls == [["a"], ["b", "c", "d"], ["b"], ["c"], ["d"]]
    assert results[:2] == [("done", "a"), ("done", "b")]
    assert results[3] == ("done", "d")
    # C gets the error of its own call, not the batch's.
    batch_error, own_error = recording.raised
    assert isinstance(results[2], Boom)
    assert results[2] is own_error
    assert results[2] is not batch_error
    assert _counted(batcher, recording) == (5, 7, 1)


async def test_a_lone_failing_item_gets_its_error_without_a_second_call():
    recording = Recording(fail=["x"])
    batcher = _batcher(recording, lanes=1, batch=8)
    with pytest.raises(Boom) as raised:
        await asyncio.wait_for(batcher.submit("x"), 1)
    assert raised.value is recording.raised[0]
    assert recording.calls == [["x"]]
    assert _counted(batcher, recording) == (1, 1, 0)
    # The lane is free again.
    assert await asyncio.wait_for(batcher.submit("y"), 1) == ("done", "y")


async def test_a_cancelled_caller_neither_stops_its_item_nor_its_batch():
    recording = Recording(hold=["a"])
    batcher = _batcher(recording, lanes=1, batch=8)
    (blocker,) = _submit(batcher, "a")
    await _until(lambda: len(recording.calls) == 1, "the first call")
    b, c, d = _submit(batcher, "b", "c", "d")
    await _until(lambda: len(_queued(batcher)) == 3, "the items to queue")
    c.cancel()
    with pytest.raises(asyncio.CancelledError):
        await c
    assert _queued(batcher) == ["b", "c", "d"]  # still in line

    recording.release("a")
    assert await asyncio.wait_for(asyncio.gather(blocker, b, d), 1) == [
        ("done", "a"),
        ("done", "b"),
        ("done", "d"),
    ]
    assert recording.calls == [["a"], ["b", "c", "d"]]  # C ran, in its batch
    assert _counted(batcher, recording) == (2, 4, 0)


async def _orphans_that_fail() -> None:
    """Two callers go away before their items fail: one in a batch (its item fails again
    alone), one alone in its call. Returns with nothing of theirs referenced."""
    recording = Recording(hold=["a", "lone"], fail=["x", "lone"])
    batcher = _batcher(recording, lanes=1, batch=8)
    (blocker,) = _submit(batcher, "a")
    await _until(lambda: len(recording.calls) == 1, "the first call")
    x, y = _submit(batcher, "x", "y")
    await _until(lambda: len(_queued(batcher)) == 2, "the items to queue")
    x.cancel()
    with pytest.raises(asyncio.CancelledError):
        await x
    recording.release("a")
    assert await asyncio.wait_for(asyncio.gather(blocker, y), 1) == [("done", "a"), ("done", "y")]
    assert recording.calls == [["a"], ["x", "y"], ["x"], ["y"]]

    (lone,) = _submit(batcher, "lone")
    await _until(lambda: len(recording.calls) == 5, "the lone call")
    lone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lone
    recording.release("lone")
    await _until(lambda: not batcher._lane_tasks, "the lane to end")
    assert recording.calls[4:] == [["lone"]]  # no second call for it
    assert len(recording.raised) == 3  # the batch's, X's own, and the lone item's


async def test_an_orphaned_item_that_fails_leaves_no_unretrieved_error(caplog):
    """Nobody awaits the answer of a cancelled caller; its error must not be reported by the
    loop as never retrieved when the answer is collected."""
    # The batcher's warning about the failed batch carries its error, whose traceback holds the
    # batch: kept by pytest's log capture, it would keep the answers from being collected here.
    caplog.set_level(logging.ERROR, logger="app.core.batching")
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        await _orphans_that_fail()
        for _ in range(3):
            await asyncio.sleep(0)
        gc.collect()  # the answers (in cycles with their errors' tracebacks) go now
        for _ in range(3):
            await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    never_retrieved = [context for context in reported if "never retrieved" in context["message"]]
    assert never_retrieved == []
