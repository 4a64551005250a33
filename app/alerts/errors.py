"""The alerts domain's errors."""

from __future__ import annotations

from app.core.errors import Conflict, NotFound, ValidationFailed


class AlertNotFound(NotFound):
    code, title = "alert_not_found", "预警不存在"


class AlertRunNotFound(NotFound):
    code, title = "alert_run_not_found", "预警计算任务不存在"


class IllegalAlertTransition(Conflict):
    code, title = "illegal_transition", "预警当前的状态不能执行此操作"


class PeriodSuperseded(Conflict):
    code, title = "period_superseded", "该月份早于本区域已计算过的最近月份，不能重新计算"


class FuturePeriod(ValidationFailed):
    code, title = "future_period", "不能计算尚未开始的月份"


class RegionRequired(ValidationFailed):
    code, title = "region_required", "请指明区域（region）"
