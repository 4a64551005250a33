"""The feed's errors."""

from __future__ import annotations

from app.core.errors import Conflict, Forbidden, NotFound


class ConflictNotFound(NotFound):
    code, title = "conflict_not_found", "对账事项不存在"


class ConflictResolved(Conflict):
    code, title = "conflict_resolved", "该对账事项已处理"


class NotCountyLevel(Forbidden):
    code, title = "not_county_level", "仅县级及以上管理人员可修改本县设置"
