"""Ranking open jobs for one labourer: scored in SQL, explained here, deterministically.

Weights live in `app/policy/jobs.py`. The database scores every open job the labourer may take
(`score_sql`, the points as a SQL expression) and `best_jobs` keeps the best few; `score`
computes the same points for those few with the reasons behind them, so the answer explains
itself. A test holds the two to the same numbers.
Weak or half labour never sees a heavy-labour job (it is filtered out, not scored); a job
already pushed to the labourer stays in the list, marked and penalised, so a coordinator can
follow it up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Integer, any_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.caller import Principal
from app.core.periods import today
from app.households import service as households
from app.households.models import MemberIntent
from app.jobs.errors import NotLabourForce
from app.jobs.models import Job, JobPush, JobStatus
from app.jobs.schemas import JobMatch, JobOut
from app.policy import jobs as policy
from app.policy.values import LABOUR_FORCE, OUTSIDE_COUNTY, Intent, LabourType, WorkRegion

PREFERRED_LOCATIONS: dict[Intent, frozenset[WorkRegion]] = {
    Intent.go_out: OUTSIDE_COUNTY,
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


def score_sql(labourer: Labourer) -> ColumnElement[int]:
    """`score` as a SQL expression over `job`, for ranking every candidate in the database."""
    terms: list[ColumnElement[int]] = []
    preferred = PREFERRED_LOCATIONS.get(labourer.intent) if labourer.intent else None
    if preferred:
        locations = sorted(p.value for p in preferred)
        terms.append(
            case((Job.location_type.in_(locations), policy.WEIGHT_LOCATION_PREFERRED), else_=0)
        )
    if labourer.intent is Intent.nearby:
        terms.append(
            case(
                (
                    func.left(Job.region_code, 9) == labourer.village_code[:9],
                    policy.WEIGHT_SAME_TOWNSHIP,
                ),
                (
                    func.left(Job.region_code, 6) == labourer.village_code[:6],
                    policy.WEIGHT_SAME_COUNTY,
                ),
                else_=0,
            )
        )
    if labourer.interests:
        shared = sum(
            (
                case((literal(skill) == any_(Job.skills), 1), else_=0)
                for skill in labourer.interests
            ),
            start=literal(0, Integer),
        )
        terms.append(func.least(shared, policy.MAX_SKILL_MATCHES) * policy.WEIGHT_SKILL_MATCH)
    terms.append(func.least(Job.wage_max // policy.WAGE_STEP, policy.WEIGHT_WAGE_CAP))
    if labourer.pushed_job_ids:
        pushed = sorted(labourer.pushed_job_ids)
        terms.append(case((Job.id.in_(pushed), -policy.PENALTY_ALREADY_PUSHED), else_=0))
    return sum(terms[1:], start=terms[0])


async def best_jobs(session: AsyncSession, labourer: Labourer, on: date, limit: int) -> list[Job]:
    """The `limit` best open, unexpired jobs the labourer may take, best first; equal scores
    in job id order. Ranked on narrow rows (id and score), then only the winners are loaded:
    sorting whole job rows costs twice as much."""
    points = score_sql(labourer).label("points")
    ranked = select(Job.id, points).where(Job.status == JobStatus.open, Job.valid_until >= on)
    if labourer.labour_type is LabourType.weak:
        ranked = ranked.where(Job.heavy_labour.is_(False))
    best = ranked.order_by(points.desc(), Job.id).limit(limit).subquery("best")
    statement = (
        select(Job).join(best, best.c.id == Job.id).order_by(best.c.points.desc(), best.c.id)
    )
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


async def matches(
    session: AsyncSession, principal: Principal, member_id: uuid.UUID, limit: int
) -> list[JobMatch]:
    """Jobs ranked for one labourer in the caller's scope, each with its score and reasons."""
    member, household = await households.member_in_scope(session, principal, member_id)
    if member.labour_type not in LABOUR_FORCE:
        raise NotLabourForce(f"该成员为{member.labour_type}，不匹配岗位")
    intent = await session.get(MemberIntent, member.id)
    pushed = await session.scalars(select(JobPush.job_id).where(JobPush.member_id == member.id))
    labourer = Labourer(
        village_code=household.village_code,
        labour_type=LabourType(member.labour_type),
        intent=Intent(intent.intent) if intent else None,
        skills=tuple(member.skills or ()),
        wanted_job_types=tuple(intent.wanted_job_types or ()) if intent else (),
        pushed_job_ids=frozenset(pushed.all()),
    )
    jobs = await best_jobs(session, labourer, today(), limit)
    explained = [score(job, labourer) for job in jobs]
    return [
        JobMatch(
            job=JobOut.model_validate(s.job),
            score=s.score,
            reasons=s.reasons,
            already_pushed=s.already_pushed,
        )
        for s in explained
    ]
