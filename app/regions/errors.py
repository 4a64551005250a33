"""The regions domain's errors."""

from __future__ import annotations

from app.core.errors import NotFound


class RegionNotFound(NotFound):
    code = "region_not_found"
    title = "行政区划不存在"
