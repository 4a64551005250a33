"""Job openings: posted and corrected by staff, read by all staff, closed when they expire."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.caller import Principal
from app.core.errors import ValidationFailed
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.core.periods import today
from app.core.scope import Scope
from app.jobs.errors import JobNotFound
from app.jobs.models import Job, JobStatus
from app.jobs.schemas import JobIn, JobOut, JobPatch
from app.regions.errors import RegionNotFound
from app.regions.models import Region


@dataclass(frozen=True, slots=True)
class JobFilters:
    status: str | None = None
    location_type: str | None = None
    source: str | None = None
    region: str | None = None
    q: str | None = None


_PAST_VALID_UNTIL = "有效期不能早于今天"


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message}])


async def _check_region(session: AsyncSession, principal: Principal, code: str) -> None:
    """A job's `region_code` names a known region within the caller's scope. An unknown one is
    a mistake in the body, answered like the body's other field errors (422
    `validation_failed`, naming `body.region_code`); a known one outside the caller's regions
    answers 404 `region_not_found`, as for any object out of reach (regions are public, so the
    two answers tell nothing away)."""
    if await session.get(Region, code) is None:
        raise _invalid("body.region_code", f"岗位所在地区 {code} 不存在")
    if not principal.scope.covers(code):
        raise RegionNotFound(f"区划 {code} 不存在或不在您的管辖范围内")


def _check_valid_until(job: Job, values: dict[str, Any]) -> None:
    """An open job is valid today or later, whether posted, changed or reopened: a job whose
    last valid day is past stays closed until it is given a new one."""
    status = values.get("status", job.status)
    valid_until = values.get("valid_until", job.valid_until)
    if status != JobStatus.open or valid_until >= today():
        return
    if "valid_until" in values:
        raise _invalid("body.valid_until", _PAST_VALID_UNTIL)
    raise _invalid(
        "body.valid_until",
        f"岗位已于 {valid_until.isoformat()} 过期："
        "开放的岗位须同时给出不早于今天的有效期，或将其关闭",
    )


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in values.items()}


async def create_job(session: AsyncSession, principal: Principal, body: JobIn) -> JobOut:
    await _check_region(session, principal, body.region_code)
    if body.valid_until < today():
        raise _invalid("body.valid_until", _PAST_VALID_UNTIL)
    # A new job is open: the model's default.
    job = Job(**_plain(body.model_dump()), created_by=principal.id)
    session.add(job)
    await session.flush()
    await session.refresh(job)
    audit.record(
        session,
        principal.actor,
        action="create",
        entity="job",
        entity_id=job.id,
        region_code=job.region_code,
        changes={"title": (None, job.title), "employer": (None, job.employer)},
    )
    return JobOut.model_validate(job)


async def get_job_row(session: AsyncSession, job_id: uuid.UUID) -> Job:
    """Any job: openings are read by all staff, whatever their regions."""
    job = await session.get(Job, job_id)
    if job is None:
        raise JobNotFound()
    return job


async def _job_to_change(session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> Job:
    """A job in the caller's regions, locked until the transaction ends; 404 otherwise: staff
    read every opening but change only their own regions' (the audit row lands there)."""
    job = await session.scalar(
        select(Job)
        .where(Job.id == job_id, principal.scope.region_filter(Job.region_code))
        .with_for_update()
    )
    if job is None:
        raise JobNotFound()
    return job


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> JobOut:
    return JobOut.model_validate(await get_job_row(session, job_id))


async def update_job(
    session: AsyncSession, principal: Principal, job_id: uuid.UUID, patch: JobPatch
) -> JobOut:
    """Changes the fields sent, on a job in the caller's regions, which it cannot move out of
    them (404 otherwise). The job that results must be one `create_job` would accept
    (known region, wage range) and, if open, valid today or later: reopening an expired job
    takes a new `valid_until` in the same change. Closing, or correcting a closed job, needs
    no future date."""
    job = await _job_to_change(session, principal, job_id)
    values = _plain(patch.model_dump(exclude_unset=True))
    for key, value in values.items():
        if value is None:
            raise _invalid(f"body.{key}", "该字段不能为空")
    if values.get("region_code", job.region_code) != job.region_code:
        await _check_region(session, principal, values["region_code"])
    wage_min = values.get("wage_min", job.wage_min)
    wage_max = values.get("wage_max", job.wage_max)
    if wage_min > wage_max:
        raise _invalid("body.wage_min", "最低工资不能高于最高工资（wage_min <= wage_max）")
    _check_valid_until(job, values)
    changes = {
        key: (getattr(job, key), value)
        for key, value in values.items()
        if getattr(job, key) != value
    }
    if not changes:
        return JobOut.model_validate(job)
    for key, (_, value) in changes.items():
        setattr(job, key, value)
    # The flush's UPDATE sets `updated_at` (the column's onupdate).
    await session.flush()
    await session.refresh(job)
    audit.record(
        session,
        principal.actor,
        action="update",
        entity="job",
        entity_id=job.id,
        region_code=job.region_code,
        changes=changes,
    )
    return JobOut.model_validate(job)


async def list_jobs(
    session: AsyncSession, filters: JobFilters, page: PageRequest
) -> tuple[list[JobOut], str | None]:
    """Openings are visible to all staff: filtered, not scoped. Newest first."""
    statement = select(Job)
    conditions = {
        Job.status: filters.status,
        Job.location_type: filters.location_type,
        Job.source: filters.source,
    }
    statement = statement.where(
        *(column == value for column, value in conditions.items() if value is not None)
    )
    if filters.region:
        statement = statement.where(
            Scope.of_regions([filters.region]).region_filter(Job.region_code)
        )
    if filters.q:
        statement = statement.where(Job.title.startswith(filters.q.strip(), autoescape=True))
    statement = newest_first(statement, Job.created_at, Job.id, page)
    rows = list((await session.scalars(statement)).all())
    rows, cursor = next_cursor(rows, page.limit, lambda j: newest_first_key(j.created_at, j.id))
    return [JobOut.model_validate(row) for row in rows], cursor


async def close_expired(session: AsyncSession, caller: Principal, on: date | None = None) -> int:
    """Close every open job whose last valid day is before `on` (today in Shanghai), in one
    UPDATE, each closing audited as `caller` (the system, from the nightly job). Running it
    twice changes nothing the second time."""
    closed = (
        await session.execute(
            update(Job)
            .where(Job.status == JobStatus.open, Job.valid_until < (on or today()))
            .values(status=JobStatus.closed.value)  # and `updated_at`, by its onupdate
            .returning(Job.id, Job.region_code)
            .execution_options(synchronize_session=False)
        )
    ).all()
    actor = caller.actor
    for job_id, region_code in closed:
        audit.record(
            session,
            actor,
            action="update",
            entity="job",
            entity_id=job_id,
            region_code=region_code,
            changes={"status": (JobStatus.open.value, JobStatus.closed.value)},
            reason="有效期已过",
        )
    return len(closed)
