"""The callers' accounts read together (app/auth/callers.py): requests waiting at the same moment
share one statement, and each still gets its own account, or its own refusal.

To make a batch certain, a test gives the app a reader of one lane and holds that lane: a first
request's read waits on a lock on `user_account` taken by another connection, the requests under
test queue behind it, and when the lock goes they are read together in one call."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from sqlalchemy import text

from app.auth.callers import AccountReader
from app.auth.models import Role, UserAccount
from tests.waiting import swapped, until

ME = "/api/v1/me"


# --- Arranging -------------------------------------------------------------------------------


def _reading_with(app: Any, reader: AccountReader) -> AbstractAsyncContextManager[AccountReader]:
    """`reader` reads the app's callers for the block."""
    return swapped(app.state, "accounts", reader)


def _queued(reader: AccountReader) -> int:
    """Reads waiting for a lane."""
    return reader.batcher.waiting


def _counters(reader: AccountReader) -> tuple[int, int, int]:
    batcher = reader.batcher
    return batcher.calls, batcher.items, batcher.failed_batches


async def _in_one_batch(
    app: Any,
    client: httpx.AsyncClient,
    blocker: dict[str, str],
    headers: Sequence[dict[str, str]],
) -> list[httpx.Response]:
    """`GET /me` with each of `headers`, their accounts read in one call of a one-lane reader:
    a first request (`blocker`'s headers) takes the lane and waits on a lock on `user_account`
    while the others queue; then the lock goes."""
    reader = AccountReader(app.state.db, lanes=1, batch=32)
    async with _reading_with(app, reader):
        async with app.state.db.engine.connect() as lock:
            await lock.execute(text("LOCK TABLE user_account IN ACCESS EXCLUSIVE MODE"))
            try:
                first = asyncio.ensure_future(client.get(ME, headers=blocker))
                await until(lambda: reader.batcher.calls == 1, "the blocker's read")
                queued = [asyncio.ensure_future(client.get(ME, headers=h)) for h in headers]
                await until(lambda: _queued(reader) == len(headers), "the reads to queue")
                assert reader.batcher.calls == 1  # all wait while the lane is held
            finally:
                await lock.rollback()
        first_response, *responses = await asyncio.wait_for(asyncio.gather(first, *queued), 5)
    assert first_response.status_code == 200, first_response.text
    # The blocker's read, then all the others in one.
    assert _counters(reader) == (2, 1 + len(headers), 0)
    return responses


async def _users(make_user: Callable[..., Any], count: int) -> list[UserAccount]:
    return [await make_user(Role.admin, username=f"reader-{n:02d}") for n in range(count)]


def _is_account(response: httpx.Response, user: UserAccount) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["username"]) == (str(user.id), user.username)


def _refused(response: httpx.Response, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code


# --- Batches ---------------------------------------------------------------------------------


async def test_concurrent_requests_each_answer_their_own_account(app, client, make_user, auth):
    """The app's own reader (several lanes), twenty callers at once."""
    users = await _users(make_user, 20)
    before = _counters(app.state.accounts)
    responses = await asyncio.gather(*(client.get(ME, headers=auth(user)) for user in users))
    for response, user in zip(responses, users, strict=True):
        _is_account(response, user)
    calls, items, failed = _counters(app.state.accounts)
    assert items - before[1] == 20
    assert 1 <= calls - before[0] <= 20
    assert failed == before[2]


async def test_requests_queued_behind_a_held_lane_are_read_in_one_call(
    app, client, make_user, auth
):
    blocker, *users = await _users(make_user, 20)
    users.reverse()  # not the order of the table either
    responses = await _in_one_batch(app, client, auth(blocker), [auth(user) for user in users])
    for response, user in zip(responses, users, strict=True):
        _is_account(response, user)


async def test_refused_callers_of_a_batch_do_not_fail_the_others(app, client, make_user, auth, db):
    blocker, first, inactive, deleted, logged_out, last = await _users(make_user, 6)
    headers = [auth(user) for user in (first, inactive, deleted, logged_out, last)]
    # The tokens were issued before each change.
    await db.execute(
        text("UPDATE user_account SET is_active = false WHERE id = :id"), {"id": inactive.id}
    )
    await db.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": deleted.id})
    await db.execute(
        text("UPDATE user_account SET tokens_valid_after = now() WHERE id = :id"),
        {"id": logged_out.id},
    )
    await db.commit()

    responses = await _in_one_batch(app, client, auth(blocker), headers)
    _is_account(responses[0], first)
    _refused(responses[1], "unauthorized")  # deactivated
    _refused(responses[2], "invalid_token")  # no such account
    _refused(responses[3], "invalid_token")  # logged out everywhere since the token
    _is_account(responses[4], last)
    assert "停用" in responses[1].json()["detail"]
    assert "不存在" in responses[2].json()["detail"]
    assert "注销" in responses[3].json()["detail"]


async def test_a_token_of_no_account_in_a_batch(app, client, make_user, auth, settings):
    """A subject that never existed, between two callers that do."""
    from app.core.security import issue_access_token

    blocker, before, after = await _users(make_user, 3)
    token, _ = issue_access_token(settings, uuid.uuid4(), Role.coordinator.value)
    responses = await _in_one_batch(
        app,
        client,
        auth(blocker),
        [auth(before), {"Authorization": f"Bearer {token}"}, auth(after)],
    )
    _is_account(responses[0], before)
    _refused(responses[1], "invalid_token")
    _is_account(responses[2], after)


async def test_one_caller_twice_in_a_batch_gets_both_answers(app, client, make_user, auth):
    blocker, twice, other = await _users(make_user, 3)
    responses = await _in_one_batch(
        app, client, auth(blocker), [auth(twice), auth(other), auth(twice)]
    )
    _is_account(responses[0], twice)
    _is_account(responses[1], other)
    _is_account(responses[2], twice)


async def test_a_caller_with_regions_in_a_batch_gets_them(app, client, make_user, auth):
    """The regions come from the batched statement too, each caller's own."""
    blocker, plain = await _users(make_user, 2)
    regional = await make_user(Role.coordinator, ["450226100201", "450226100202"])
    manager = await make_user(Role.manager, ["450226100000"])
    responses = await _in_one_batch(
        app, client, auth(blocker), [auth(regional), auth(plain), auth(manager)]
    )
    assert sorted(responses[0].json()["region_codes"]) == ["450226100201", "450226100202"]
    assert responses[1].json()["region_codes"] == []
    assert responses[2].json()["region_codes"] == ["450226100000"]
