"""Templates are configuration; every value is cut to WeChat's limit for its kind."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from app.notifications.templates import (
    _TEMPLATES,
    DEFAULT_TEMPLATES_FILE,
    LIMITS,
    Template,
    Templates,
    field_kind,
    truncate,
)

BOUNDARIES = [("thing", 20), ("phrase", 5), ("name", 10), ("number", 32), ("character_string", 32)]


@pytest.mark.parametrize(("kind", "limit"), BOUNDARIES)
def test_each_limit_at_its_boundary(kind, limit):
    assert LIMITS[kind] == limit
    at_limit = "字" * limit
    assert truncate(kind, at_limit) == at_limit  # exactly the limit: kept whole
    cut = truncate(kind, at_limit + "多")
    assert len(cut) == limit
    if kind == "thing":
        assert cut == "字" * (limit - 1) + "…"  # free text shows it was cut
    else:
        assert cut == at_limit  # fixed shapes are cut without a mark
    assert truncate(kind, "") == ""


def test_kinds_are_read_from_field_keys():
    assert field_kind("thing12") == "thing"
    assert field_kind("character_string3") == "character_string"
    assert field_kind("time4") == "time"
    assert truncate("time", "x" * 100) == "x" * 100  # formatted by us: no limit


def test_render_takes_each_source_and_cuts():
    template = Template(
        template_id="t1",
        data={
            "thing1": "title",
            "thing2": "body",
            "phrase3": "=已受理的申请",
            "name4": "fields.person",
            "time5": "created_at",
            "character_string6": "fields.missing",
        },
    )
    data = template.render(
        title="标题",
        body="一" * 30,
        created_at=datetime(2026, 11, 29, 16, 5, tzinfo=UTC),
        fields={"person": "欧阳" * 6},
    )
    assert data == {
        "thing1": {"value": "标题"},
        "thing2": {"value": "一" * 19 + "…"},
        "phrase3": {"value": "已受理的申"},
        "name4": {"value": "欧阳" * 5},
        "time5": {"value": "2026-11-30 00:05"},  # Shanghai time
        "character_string6": {"value": "-"},  # WeChat refuses an empty value
    }


def test_the_bundled_templates_load_and_bad_ones_are_refused():
    templates = Templates(_TEMPLATES.validate_json(DEFAULT_TEMPLATES_FILE.read_text()))
    assert "help_request.accepted" in templates.by_event
    with pytest.raises(ValidationError):
        Template(template_id="t", data={"not a key": "title"})
    with pytest.raises(ValidationError):
        Template(template_id="t", data={"thing1": "nowhere"})


async def test_long_values_reach_a_strict_wechat_uncut_no_more(
    db, tmp_path, villager, notify_committed, run_worker, wechat_server
):
    """The fake answers 47003 for any value over WeChat's limit, as WeChat does."""
    path = tmp_path / "templates.json"
    path.write_text(
        json.dumps(
            {
                "help_request.accepted": {
                    "template_id": "dev-tmpl-help-accepted",
                    "data": {
                        "thing1": "title",
                        "phrase2": "fields.phrase",
                        "name3": "fields.name",
                        "number4": "fields.number",
                        "character_string5": "fields.code",
                    },
                }
            }
        )
    )
    user = await villager(subscriptions=1)
    await notify_committed(
        [user.id],
        title="这是一个远远超过二十个字符长度限制的求助标题文字内容",
        fields={"phrase": "处理中处理中", "name": "名" * 11, "number": "9" * 33, "code": "A" * 33},
    )
    await run_worker(notification_templates_file=path)
    [message] = wechat_server.state.messages
    assert {key: len(item["value"]) for key, item in message["data"].items()} == {
        "thing1": 20,
        "phrase2": 5,
        "name3": 10,
        "number4": 32,
        "character_string5": 32,
    }
