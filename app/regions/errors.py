"""The regions domain's errors."""

from __future__ import annotations

from app.core.errors import Forbidden, NotFound


class RegionNotFound(NotFound):
    code = "region_not_found"
    title = "行政区划不存在"


class NotCountyLevel(Forbidden):
    code, title = "not_county_level", "仅县级及以上管理人员可修改本县设置"
