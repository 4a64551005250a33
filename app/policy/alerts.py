"""The monthly job-status alerts (月预警, `DOMAIN.md`, "Rules with numbers"): which rules exist,
what each watches, and the thresholds a county may set (`GET/PUT /api/v1/alert-rules`).

Every rule is evaluated for one period (a month, `YYYY-MM` in Asia/Shanghai) over the whole
population of a region, set-based (`app/alerts/engine.py` holds each rule's SQL). An alert is an
episode: it opens the first month its condition holds, stays one alert while it holds, and
closes (`auto_resolved`) the first month it does not.

Time-based rules (training, visits, stale data) count whole calendar days in Asia/Shanghai up to
the period's cut-off: the end of the period, or the moment of the run when the period is still
running (`period_cutoff`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.core.periods import SHANGHAI, shift_period
from app.policy.help_requests import TRAINING_ENROLMENT_DAYS
from app.policy.jobs import MIN_JOBS_PER_ROUND, MIN_PUSH_ROUNDS


class AlertRule(StrEnum):
    employment_lost = "employment_lost"
    zero_employment_household = "zero_employment_household"
    returned_home = "returned_home"
    unstable_employment = "unstable_employment"
    income_drop = "income_drop"
    below_monitoring_line = "below_monitoring_line"
    intent_unassisted = "intent_unassisted"
    training_overdue = "training_overdue"
    visit_overdue = "visit_overdue"
    subsidy_eligible = "subsidy_eligible"
    data_inconsistent = "data_inconsistent"
    region_employment_drop = "region_employment_drop"
    region_behind_target = "region_behind_target"


class AlertSubject(StrEnum):
    """What an alert is about: one labourer, one household, or one region (township or
    village)."""

    member = "member"
    household = "household"
    region = "region"


class AlertKind(StrEnum):
    """A risk to act on, or an opportunity (a subsidy someone qualifies for)."""

    risk = "risk"
    opportunity = "opportunity"


@dataclass(frozen=True, slots=True)
class Threshold:
    """One number (or switch) of a rule that a county may set."""

    name: str
    title: str
    default: int | bool
    minimum: int = 0
    maximum: int = 1000


@dataclass(frozen=True, slots=True)
class RuleSpec:
    rule: AlertRule
    title: str
    subject: AlertSubject
    kind: AlertKind
    description: str
    thresholds: tuple[Threshold, ...] = ()

    def defaults(self) -> dict[str, int | bool]:
        return {t.name: t.default for t in self.thresholds}


RULES: dict[AlertRule, RuleSpec] = {
    spec.rule: spec
    for spec in (
        RuleSpec(
            AlertRule.employment_lost,
            "就业转失业",
            AlertSubject.member,
            AlertKind.risk,
            "上月务工，本月有记录且未务工。",
        ),
        RuleSpec(
            AlertRule.zero_employment_household,
            "零就业家庭",
            AlertSubject.household,
            AlertKind.risk,
            "脱贫户或监测户，有劳动力，本月无一人务工（须动态清零）。",
            (Threshold("farming_counts", "务农计为就业", True, 0, 1),),
        ),
        RuleSpec(
            AlertRule.returned_home,
            "返乡回流",
            AlertSubject.member,
            AlertKind.risk,
            "上月在省外或省内县外务工，本月在家且未务工。",
        ),
        RuleSpec(
            AlertRule.unstable_employment,
            "就业不稳定",
            AlertSubject.member,
            AlertKind.risk,
            "近12个月有务工，但务工月数少于N个月，或更换雇主达M次及以上。",
            (
                Threshold("min_months_employed", "近12个月最少务工月数", 6, 1, 12),
                Threshold("max_employer_changes", "近12个月更换雇主次数上限", 3, 1, 12),
            ),
        ),
        RuleSpec(
            AlertRule.income_drop,
            "收入下降",
            AlertSubject.household,
            AlertKind.risk,
            "家庭劳动力本年至今工资性收入比上年同期下降超过X%。",
            (Threshold("drop_percent", "同比下降比例（%）", 20, 1, 100),),
        ),
        RuleSpec(
            AlertRule.below_monitoring_line,
            "低于监测线",
            AlertSubject.household,
            AlertKind.risk,
            "家庭人均纯收入低于所在地当年监测收入线（按区域逐级向上取最近的一条）。",
        ),
        RuleSpec(
            AlertRule.intent_unassisted,
            "有意愿未帮扶",
            AlertSubject.member,
            AlertKind.risk,
            "有就业意愿（外出或就近）、本月未务工，且岗位推送不足3轮、每轮5个。",
            (
                Threshold("min_rounds", "最少推送轮次", MIN_PUSH_ROUNDS, 1, 12),
                Threshold("jobs_per_round", "每轮最少岗位数", MIN_JOBS_PER_ROUND, 1, 50),
            ),
        ),
        RuleSpec(
            AlertRule.training_overdue,
            "培训逾期",
            AlertSubject.member,
            AlertKind.risk,
            "技能培训求助受理超过15天仍未报名培训。",
            (Threshold("days", "受理后天数", TRAINING_ENROLMENT_DAYS, 1, 90),),
        ),
        RuleSpec(
            AlertRule.visit_overdue,
            "久未走访",
            AlertSubject.household,
            AlertKind.risk,
            "监测户超过N天未入户走访。",
            (Threshold("days", "未走访天数", 30, 1, 365),),
        ),
        RuleSpec(
            AlertRule.subsidy_eligible,
            "奖补资格",
            AlertSubject.member,
            AlertKind.opportunity,
            "连续6个月外出务工，或连续3个月灵活就业，符合务工奖补条件。",
            (
                Threshold("away_months", "连续外出务工月数", 6, 1, 24),
                Threshold("flexible_months", "连续灵活就业月数", 3, 1, 24),
            ),
        ),
        RuleSpec(
            AlertRule.data_inconsistent,
            "数据不一致",
            AlertSubject.household,
            AlertKind.risk,
            "存在超过N天未处理的数据冲突或数据核查问题。",
            (Threshold("days", "未处理天数", 14, 1, 365),),
        ),
        RuleSpec(
            AlertRule.region_employment_drop,
            "区域就业下滑",
            AlertSubject.region,
            AlertKind.risk,
            "乡镇或村本月务工人数比上月下降超过X%。",
            (Threshold("drop_percent", "环比下降比例（%）", 10, 1, 100),),
        ),
        RuleSpec(
            AlertRule.region_behind_target,
            "目标进度滞后",
            AlertSubject.region,
            AlertKind.risk,
            "乡镇或村本月务工人数低于当年目标的序时进度（目标×月份÷12）超过X%。",
            (Threshold("tolerance_percent", "允许落后比例（%）", 0, 0, 100),),
        ),
    )
}

# The day of the month the scheduled run computes that month's alerts, unless a county sets its
# own (1–28, so that every month has it).
DEFAULT_RUN_DAY = 25
MIN_RUN_DAY = 1
MAX_RUN_DAY = 28

# A monitored household's risk may be marked cleared (风险消除) once its income has stayed above
# the year's monitoring line this many months.
RISK_CLEARABLE_MONTHS = 6


def period_start(period: str) -> datetime:
    """The first instant of `period` in Asia/Shanghai."""
    return datetime(int(period[:4]), int(period[5:7]), 1, tzinfo=SHANGHAI)


def period_cutoff(period: str, now: datetime) -> datetime:
    """The instant a period's time-based rules are counted to: its end, or `now` while it runs."""
    end = period_start(shift_period(period, 1))
    return min(end, now.astimezone(SHANGHAI))


class AlertStatus(StrEnum):
    """An episode's state. `open` → `acknowledged` → `resolved` are a person's steps;
    `auto_resolved` is the run's, the first month the condition no longer holds."""

    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"
    auto_resolved = "auto_resolved"


class ResolutionAction(StrEnum):
    """What was done about an alert (MOHRSS art. 7: guidance, referral or training in time)."""

    guidance = "职业指导"
    referral = "职业介绍"
    training = "技能培训"
    public_welfare_post = "公益性岗位安置"
    other = "其他"
