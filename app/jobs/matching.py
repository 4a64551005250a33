"""Ranking open jobs for one labourer: candidates filtered in SQL, scored here, deterministically.

Weights live in `app/policy/jobs.py`. Weak or half labour never sees a heavy-labour job (it is
filtered out, not scored); a job already pushed to the labourer stays in the list, marked and
penalised, so a coordinator can follow it up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import String, case, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs.models import Job, JobStatus
from app.policy import jobs as policy
from app.policy.values import Intent, LabourType, WorkRegion

PREFERRED_LOCATIONS: dict[Intent, frozenset[WorkRegion]] = {
    Intent.go_out: frozenset({WorkRegion.out_of_province, WorkRegion.in_province}),
    Intent.nearby: frozenset({WorkRegion.in_county}),
}
_INTENT_WORDS = {Intent.go_out: "外出", Intent.nearby: "就近"}


@dataclass(frozen=True, slots=True)
class Labourer:
    village_code: str
    labour_type: LabourType
    intent: Intent | None
    skills: tuple[str, ...]
    wanted_job_types: tuple[str, ...]
    pushed_job_ids: frozenset[uuid.UUID]

    @property
    def interests(self) -> tuple[str, ...]:
        """Skills first, then wanted job types, each once, in a stable order."""
        return tuple(dict.fromkeys((*self.skills, *self.wanted_job_types)))


@dataclass(frozen=True, slots=True)
class Scored:
    job: Job
    score: int
    reasons: list[str]
    already_pushed: bool


async def candidates(session: AsyncSession, labourer: Labourer, today: date) -> list[Job]:
    """Open, unexpired jobs the labourer may take, at most `MAX_MATCH_CANDIDATES`: those in a
    preferred location and sharing a skill first, then by wage (served by the status/date index)."""
    statement = select(Job).where(Job.status == JobStatus.open, Job.valid_until >= today)
    if labourer.labour_type is LabourType.weak:
        statement = statement.where(Job.heavy_labour.is_(False))
    preferred = PREFERRED_LOCATIONS.get(labourer.intent) if labourer.intent else None
    order = []
    if preferred:
        order.append(case((Job.location_type.in_([p.value for p in preferred]), 0), else_=1))
    if labourer.intent is Intent.nearby:
        # The same closeness the score rewards, so the cut keeps the nearest jobs.
        township, county = labourer.village_code[:9], labourer.village_code[:6]
        order.append(
            case(
                (Job.region_code.startswith(township), 0),
                (Job.region_code.startswith(county), 1),
                else_=2,
            )
        )
    if labourer.interests:
        overlap = Job.skills.op("&&", is_comparison=True)(
            array(list(labourer.interests), type_=String(32))
        )
        order.append(case((overlap, 0), else_=1))
    order += [Job.wage_max.desc(), Job.id]
    statement = statement.order_by(*order).limit(policy.MAX_MATCH_CANDIDATES)
    return list((await session.scalars(statement)).all())


def score(job: Job, labourer: Labourer) -> Scored:
    points = 0
    reasons: list[str] = []
    location = WorkRegion(job.location_type)
    if labourer.intent in PREFERRED_LOCATIONS:
        assert labourer.intent is not None
        if location in PREFERRED_LOCATIONS[labourer.intent]:
            points += policy.WEIGHT_LOCATION_PREFERRED
            reasons.append(f"有{_INTENT_WORDS[labourer.intent]}意愿，岗位在{location.value}")
        if labourer.intent is Intent.nearby:
            if job.region_code[:9] == labourer.village_code[:9]:
                points += policy.WEIGHT_SAME_TOWNSHIP
                reasons.append("岗位在本乡镇")
            elif job.region_code[:6] == labourer.village_code[:6]:
                points += policy.WEIGHT_SAME_COUNTY
                reasons.append("岗位在本县")
    wanted = set(job.skills)
    matched = [skill for skill in labourer.interests if skill in wanted][: policy.MAX_SKILL_MATCHES]
    for skill in matched:
        points += policy.WEIGHT_SKILL_MATCH
        reasons.append(f"技能匹配：{skill}")
    wage_points = min(job.wage_max // policy.WAGE_STEP, policy.WEIGHT_WAGE_CAP)
    if wage_points:
        points += wage_points
        reasons.append(f"月薪最高 {job.wage_max} 元")
    already = job.id in labourer.pushed_job_ids
    if already:
        points -= policy.PENALTY_ALREADY_PUSHED
        reasons.append("已推送过，排名靠后")
    return Scored(job=job, score=points, reasons=reasons, already_pushed=already)


def rank(jobs: list[Job], labourer: Labourer, limit: int) -> list[Scored]:
    scored = [score(job, labourer) for job in jobs]
    scored.sort(key=lambda s: (-s.score, str(s.job.id)))
    return scored[:limit]
