"""Errors of the alert settings: rule thresholds, monitoring lines, employment targets and the
watch lists."""

from __future__ import annotations

from app.core.errors import Forbidden, NotFound


class MonitoringLineNotFound(NotFound):
    code, title = "monitoring_line_not_found", "该地区该年度未设置监测收入线"


class EmploymentTargetNotFound(NotFound):
    code, title = "employment_target_not_found", "该地区该年度未设置务工目标"


class RegionNotManaged(Forbidden):
    """The caller reads the region's values (a line up their tree) but does not manage it."""

    code, title = "region_not_managed", "仅该地区及上级管理人员可修改"


class WatchListNotFound(NotFound):
    code, title = "watch_list_not_found", "监测名单不存在"
