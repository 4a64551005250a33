"""Policy value sets: the monitoring system's enumerations (FEED.md), with their Chinese values
as the wire form, and the app's own (visit methods, observation sources)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


def sql_list(values: Iterable[StrEnum]) -> str:
    """Our own enumeration values as a list of SQL literals, sorted (for statements written
    out in full; never a value from outside)."""
    return ", ".join(f"'{value.value}'" for value in sorted(values))


class HouseholdCategory(StrEnum):
    lifted = "脱贫户"
    monitored = "监测户"
    ordinary = "一般农户"


class MonitorType(StrEnum):
    unstable = "脱贫不稳定户"
    edge = "边缘易致贫户"
    sudden_hardship = "突发严重困难户"


class RiskType(StrEnum):
    illness = "因病"
    disability = "因残"
    schooling = "因学"
    disaster = "因灾"
    accident = "因意外"
    unstable_work = "因务工就业不稳"
    lacks_labour = "缺劳动力"
    other = "其他"


class LabourType(StrEnum):
    ordinary = "普通劳动力"
    skilled = "技能劳动力"
    weak = "弱劳动力或半劳动力"
    lost = "丧失劳动力"
    none = "无劳动力"


# Only these count as labour force (劳动力): quotas, zero-employment households, pushes.
LABOUR_FORCE: frozenset[LabourType] = frozenset(
    {LabourType.ordinary, LabourType.skilled, LabourType.weak}
)


class Relation(StrEnum):
    head = "户主"
    spouse = "配偶"
    son = "之子"
    daughter = "之女"
    father = "之父"
    mother = "之母"
    grandson = "之孙子"
    granddaughter = "之孙女"
    daughter_in_law = "之儿媳"
    son_in_law = "之女婿"
    sibling = "兄弟姐妹"
    other = "其他"


class EmploymentStatus(StrEnum):
    working = "务工"
    not_working = "未务工"


class WorkRegion(StrEnum):
    """Where a labourer works, relative to their home county."""

    out_of_province = "省外"
    in_province = "省内县外"
    in_county = "县内"


# Working away from home: outside the home county (返乡回流 and 奖补资格 count these months; a
# 外出 intent looks for work here; local channels contradict it).
OUTSIDE_COUNTY: frozenset[WorkRegion] = frozenset(
    {WorkRegion.out_of_province, WorkRegion.in_province}
)


class Channel(StrEnum):
    migrant = "外出务工"
    public_welfare_post = "公益性岗位"
    assistance_workshop = "就业帮扶车间"
    flexible = "灵活就业"
    self_employed = "自主创业"
    farming = "务农"


class JobSource(StrEnum):
    """Where a job opening comes from."""

    job_station = "就业驿站"
    labour_cooperation = "劳务协作"
    assistance_workshop = "帮扶车间"
    public_welfare_post = "公益性岗位"


class ObservationSource(StrEnum):
    """Who told us: the monitoring feed, a coordinator's visit, or someone typing it in."""

    feed = "feed"
    visit = "visit"
    manual = "manual"


class Intent(StrEnum):
    go_out = "外出"
    nearby = "就近"
    none = "无意愿"


class TrainingType(StrEnum):
    """Kinds of training offered to labourers."""

    vocational = "职业技能"
    entrepreneurship = "创业"
    orientation = "引导性"


class VisitMethod(StrEnum):
    """How a coordinator reached the household."""

    in_person = "in_person"
    phone = "phone"
    wechat = "wechat"


class HelpCategory(StrEnum):
    """What a villager asks the public employment service for (求助类别)."""

    find_work = "找工作"
    training = "技能培训"
    business = "创业"
    unpaid_wages = "维权欠薪"
    policy = "政策咨询"
    other = "其他"


class ContactMethod(StrEnum):
    """How a villager asking for help wants to be reached."""

    phone = "phone"
    wechat = "wechat"
    visit = "visit"
