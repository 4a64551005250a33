"""WeChat subscribe-message templates, as configuration: which template each event uses and
where each of its fields takes its value from (`NOTIFICATION_TEMPLATES_FILE`, by default
`templates.json` beside this module; docs/notifications.md).

    {"help_request.accepted": {
        "template_id": "…",
        "data": {"thing1": "title", "thing2": "body", "phrase3": "=已受理",
                 "time4": "created_at", "name5": "fields.replier"}}}

A field's source is `title`, `body`, `created_at` (Shanghai time), `fields.<name>` (a value the
caller of `notify` passed) or `=<literal text>`. Values are cut to WeChat's limits for the
field's kind (the key without its number), so WeChat never answers 47003 for a long value.
An event with no template is delivered to the inbox only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from app.core.config import Settings
from app.core.periods import SHANGHAI

DEFAULT_TEMPLATES_FILE = Path(__file__).with_name("templates.json")

# WeChat's length limits, in characters, by the kind of field (its key without the number).
# `time`, `date` and `amount` are formatted by us and need no cutting.
LIMITS: dict[str, int] = {
    "thing": 20,
    "phrase": 5,
    "name": 10,
    "number": 32,
    "character_string": 32,
    "letter": 32,
    "symbol": 5,
    "phone_number": 17,
    "car_number": 8,
}
# Free text shows it was cut; the other kinds have a fixed shape an ellipsis would break.
ELLIPSIS_KINDS = frozenset({"thing"})
_KEY = re.compile(r"^([a-z_]+?)(\d+)$")
_SOURCE = re.compile(r"^(title|body|created_at|fields\.[A-Za-z0-9_]+|=.*)$", re.DOTALL)


def field_kind(key: str) -> str:
    """`thing` of `thing12`, `character_string` of `character_string3`."""
    match = _KEY.match(key)
    return match.group(1) if match else key


def truncate(kind: str, value: str) -> str:
    """`value` cut to the limit of `kind` (free text ends in `…` when cut)."""
    limit = LIMITS.get(kind)
    if limit is None or len(value) <= limit:
        return value
    if kind in ELLIPSIS_KINDS:
        return value[: limit - 1] + "…"
    return value[:limit]


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    template_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    data: dict[str, str] = Field(min_length=1, max_length=20)

    @field_validator("data")
    @classmethod
    def _sources(cls, value: dict[str, str]) -> dict[str, str]:
        for key, source in value.items():
            if not _KEY.match(key):
                raise ValueError(f"字段名 {key!r} 不是微信模板字段（如 thing1）")
            if not _SOURCE.match(source):
                raise ValueError(f"字段 {key} 的来源 {source!r} 无法识别")
        return value

    def render(
        self, *, title: str, body: str, created_at: datetime, fields: Mapping[str, Any]
    ) -> dict[str, dict[str, str]]:
        """The message's `data`: each field's value from its source, cut to its limit."""
        data = {}
        for key, source in self.data.items():
            if source == "title":
                value = title
            elif source == "body":
                value = body
            elif source == "created_at":
                value = created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            elif source.startswith("="):
                value = source[1:]
            else:
                value = str(fields.get(source.removeprefix("fields."), "") or "")
            # WeChat refuses an empty value; a dash says "nothing here".
            data[key] = {"value": truncate(field_kind(key), value.strip() or "-")}
        return data


_TEMPLATES = TypeAdapter(dict[str, Template])


class Templates:
    """Templates by event, and the events of each template id."""

    def __init__(self, by_event: Mapping[str, Template]) -> None:
        self.by_event = dict(by_event)
        self.events_of: dict[str, list[str]] = {}
        for event, template in self.by_event.items():
            self.events_of.setdefault(template.template_id, []).append(event)

    def for_event(self, event: str) -> Template | None:
        return self.by_event.get(event)

    @property
    def template_ids(self) -> list[str]:
        return sorted(self.events_of)


@lru_cache(maxsize=8)
def _load(path: Path) -> Templates:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Templates(_TEMPLATES.validate_python(raw))


def load_templates(settings: Settings) -> Templates:
    return _load(settings.notification_templates_file or DEFAULT_TEMPLATES_FILE)
