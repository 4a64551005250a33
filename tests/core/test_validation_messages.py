"""A 422's `errors[].message` is Chinese, whatever pydantic found; fields keep their names."""

from __future__ import annotations

import re

import pytest
from pydantic import AwareDatetime, BaseModel, ValidationError

from app.auth.models import Role
from app.core.validation import TEMPLATES, message

COUNTY = "450226000000"


def _training(**overrides):
    body = {
        "title": "电工培训",
        "type": "职业技能",
        "region_code": COUNTY,
        "organizer": "县人社局",
        "location": "县职校",
        "capacity": 30,
        "starts_at": "2026-12-01T09:00:00+08:00",
        "ends_at": "2026-12-01T17:00:00+08:00",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


async def _errors(client, headers, body) -> dict[str, str]:
    response = await client.post("/api/v1/trainings", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"
    return {error["field"]: error["message"] for error in response.json()["errors"]}


@pytest.fixture
async def manager(make_user, auth):
    return auth(await make_user(Role.manager, [COUNTY]))


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"title": None}, "body.title", "缺少必填字段"),
        ({"capacity": "三十"}, "body.capacity", "应为整数"),
        ({"capacity": 0}, "body.capacity", "不能小于 1"),
        ({"title": "训" * 201}, "body.title", "长度不能超过 200 个字符"),
        ({"organizer": ""}, "body.organizer", "长度不能少于 1 个字符"),
        ({"region_code": "4502"}, "body.region_code", r"格式不正确（应匹配 ^\d{12}$）"),
        ({"starts_at": "2026-12-01T09:00:00"}, "body.starts_at", "时间须带 UTC 偏移"),
        ({"ends_at": "明天"}, "body.ends_at", "应为带 UTC 偏移的 ISO 8601 时间"),
        ({"sessions": "全天"}, "body.sessions", "应为数组"),
        ({"color": "红"}, "body.color", "不支持此字段"),
    ],
)
async def test_common_errors_read_in_chinese(client, manager, overrides, field, expected):
    errors = await _errors(client, manager, _training(**overrides))
    assert list(errors) == [field], errors
    assert errors[field].startswith(expected), errors[field]


async def test_an_enum_lists_its_values(client, manager):
    errors = await _errors(client, manager, _training(type="烹饪"))
    assert errors == {"body.type": "应为以下值之一：'职业技能', '创业', '引导性'"}


async def test_our_own_validators_speak_for_themselves(client, manager):
    body = _training(ends_at="2026-12-01T08:00:00+08:00")
    errors = await _errors(client, manager, body)
    assert errors == {"body": "培训结束时间须晚于开始时间"}


async def test_a_query_parameter_and_a_malformed_body(client, manager):
    paged = await client.get("/api/v1/trainings", params={"limit": 0}, headers=manager)
    assert paged.status_code == 422
    assert paged.json()["errors"] == [{"field": "query.limit", "message": "不能小于 1"}]
    broken = await client.post(
        "/api/v1/trainings",
        content=b'{"title": ',
        headers={**manager, "content-type": "application/json"},
    )
    assert broken.status_code == 422
    assert [e["message"] for e in broken.json()["errors"]] == ["JSON 格式有误"]


def _error_of(model: type[BaseModel], data: object) -> dict:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value.errors()[0]


def test_every_template_is_chinese():
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in TEMPLATES.values())


def test_an_unmapped_type_falls_back_to_chinese_keeping_pydantics_words():
    assert message({"type": "something_new", "msg": "Input is odd"}) == (
        "取值不符合要求（Input is odd）"
    )
    assert message({"type": "something_new"}) == "取值不符合要求"


def test_a_template_missing_its_context_falls_back():
    assert message({"type": "string_too_long", "msg": "String too long", "ctx": {}}) == (
        "取值不符合要求（String too long）"
    )


def test_naive_datetime_from_pydantic_itself():
    class Instant(BaseModel):
        at: AwareDatetime

    error = _error_of(Instant, {"at": "2026-11-01T08:00:00"})
    assert message(error) == "时间须带 UTC 偏移，例如 2026-11-01T08:00:00+08:00"
