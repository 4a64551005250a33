"""The authorisation matrix, from the OpenAPI document: every operation that takes an id or a
region, aimed at one village's objects, by every caller who may not reach them (staff of the
next village, another township and another county, a villager of another household).

Each must be refused as if the objects did not exist (404), or for its role (403); a read may
instead answer with nothing of the village's in it. Nothing in the database may change. The same
request by one of the village's own callers must then get past the checks, which shows the
request is one the operation accepts. A new operation is covered the day it is added; one the
matrix cannot fill fails here until it is taught to, or listed below with the reason.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.auth.models import Role
from tests.security.openapi_requests import (
    CannotFill,
    Operation,
    identifying_fields,
    operations,
    request_for,
)
from tests.security.world import SIBLING_VILLAGE, build_world, fingerprint

# Operations that take an id or a region but cannot be aimed at another caller's objects here,
# each with the reason. Empty is the goal.
NOT_COVERABLE: dict[str, str] = {}
# Operations with a field that looks like an id but names no object of anyone's, with the reason.
TAKES_NO_ID: dict[str, str] = {
    "auth-wechat-login": "`code` is a one-time WeChat login code (tests/auth/test_wechat.py)",
    "auth-bind-wechat-phone": "`code` is a one-time WeChat phone code, bound to the caller",
}

# Answers to a village's own caller showing that the request passed the scope check and the
# body's validation: a refusal for the state of the object (409) included.
REACHED = frozenset({200, 201, 202, 204, 409})  # 202: a run accepted for the worker

COVERED = [
    op
    for op in operations()
    if identifying_fields(op) and op.id not in NOT_COVERABLE and op.id not in TAKES_NO_ID
]


def test_the_lists_name_operations_that_exist_and_take_an_id():
    taking_ids = {op.id for op in operations() if identifying_fields(op)}
    assert set(NOT_COVERABLE) | set(TAKES_NO_ID) <= taking_ids


async def _send(client, request, headers):
    return await client.request(
        request.method,
        request.url,
        params=request.params,
        headers={**request.headers, **headers},
        json=request.json,
    )


@pytest.mark.parametrize("operation", COVERED, ids=lambda op: op.id)
async def test_no_caller_reaches_another_regions_objects(
    operation: Operation, client, db, settings, make_user, auth
):
    world = await build_world(db, settings, make_user, auth)
    try:
        request = request_for(operation, world)
    except CannotFill as exc:
        pytest.fail(f"{operation.id}: cannot fill {exc}; teach tests/security or list it")
    before = await fingerprint(db)
    for outsider, headers in world.outsiders.items():
        response = await _send(client, request, headers)
        leaked = [s for s in world.secrets if s in response.text]
        answer = f"{operation.id} as {outsider}: {response.status_code} {response.text[:300]}"
        if operation.writes:
            assert response.status_code in (403, 404), answer
        else:
            assert response.status_code in (200, 403, 404), answer
            assert not leaked, answer
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
    assert await fingerprint(db) == before, f"{operation.id} changed the database"
    reached = {}
    for insider, headers in world.insiders.items():
        response = await _send(client, request, headers)
        reached[insider] = f"{response.status_code} {response.text[:200]}"
        if response.status_code in REACHED:
            break
    else:
        pytest.fail(f"{operation.id}: no caller of the village got through: {reached}")


ON_A_COURSE = [op for op in COVERED if "path:training_id" in identifying_fields(op)]


@pytest.mark.parametrize("operation", ON_A_COURSE, ids=lambda op: op.id)
async def test_a_shared_course_reaches_no_members_outside_the_callers_villages(
    operation: Operation, client, db, settings, make_user, auth
):
    """The members are enrolled on a course of the next village: its coordinator reaches the
    course but must still be refused the members (their enrolment, completion, attendance)."""
    world = await build_world(db, settings, make_user, auth)
    course = replace(
        world, training_id=world.shared_training_id, session_id=world.shared_session_id
    )
    request = request_for(operation, course)
    headers = auth(await make_user(Role.coordinator, [SIBLING_VILLAGE]))
    before = await fingerprint(db)
    response = await _send(client, request, headers)
    answer = f"{operation.id}: {response.status_code} {response.text[:300]}"
    if operation.writes and identifying_fields(operation) != ["path:training_id"]:
        assert response.status_code == 404, answer
    if response.status_code < 400:  # a refusal may name the ids it was sent
        people = [str(world.member_id), str(world.other_member_id), world.id_number]
        assert not [p for p in people if p in response.text], answer
    assert await fingerprint(db) == before, f"{operation.id} changed the database"
