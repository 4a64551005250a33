from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status

from app.core.auth import Staff, Villager
from app.core.deps import Pagination, ReadSession, Session
from app.core.errors import NotFound, ValidationFailed, problem_responses
from app.core.routing import api_router
from app.core.types import Text
from app.households.errors import MemberNotFound
from app.jobs import matching, progress, pushes, service
from app.jobs.errors import IllegalTransition, JobClosed, JobNotFound, NotLabourForce, PushNotFound
from app.jobs.models import JobStatus, PushStatus
from app.jobs.schemas import (
    BelowPolicyPage,
    JobIn,
    JobMatchPage,
    JobOut,
    JobPage,
    JobPatch,
    PushIn,
    PushOut,
    PushOutcomes,
    PushPage,
    PushProgress,
    PushResponseIn,
    PushResultIn,
)
from app.policy.values import JobSource, WorkRegion
from app.regions.errors import RegionNotFound

router = api_router("", tags=["jobs"])


@router.post(
    "/jobs",
    summary="Post a job opening",
    name="create",
    status_code=status.HTTP_201_CREATED,
    response_model=JobOut,
    responses=problem_responses(RegionNotFound),
)
async def create_job(body: JobIn, caller: Staff, session: Session) -> JobOut:
    """Coordinators, managers and admins post openings in their own regions (a region outside
    them answers 404 `region_not_found`). `region_code` must be a known region;
    `wage_min` may not exceed `wage_max`; `valid_until` may not be in the past. Each of these
    answers 422 `validation_failed` naming the field (an unknown region is a mistake in the
    body, so 422, not the 404 `region_not_found` of a region in the path)."""
    return await service.create_job(session, caller, body)


@router.get("/jobs", summary="List job openings", name="list", response_model=JobPage)
async def list_jobs(
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    status: JobStatus | None = None,
    location_type: WorkRegion | None = None,
    source: JobSource | None = None,
    region: Annotated[
        str | None, Query(pattern=r"^\d{12}$", description="Jobs in this region or under it")
    ] = None,
    q: Annotated[
        Text | None, Query(min_length=1, max_length=50, description="Title prefix")
    ] = None,
) -> JobPage:
    """Openings are shared by all staff (not limited to your regions), newest first."""
    filters = service.JobFilters(
        status=status, location_type=location_type, source=source, region=region, q=q
    )
    items, cursor = await service.list_jobs(session, filters, page)
    return JobPage(items=items, next_cursor=cursor)


@router.get(
    "/jobs/{job_id}",
    summary="Get a job opening",
    name="get",
    response_model=JobOut,
    responses=problem_responses(JobNotFound),
)
async def get_job(job_id: uuid.UUID, caller: Staff, session: ReadSession) -> JobOut:
    """One opening."""
    return await service.get_job(session, job_id)


@router.patch(
    "/jobs/{job_id}",
    summary="Change a job opening",
    name="patch",
    response_model=JobOut,
    responses=problem_responses(JobNotFound, RegionNotFound),
)
async def patch_job(job_id: uuid.UUID, body: JobPatch, caller: Staff, session: Session) -> JobOut:
    """Changes only the fields sent (`status: closed` withdraws it), on a job in your regions:
    every opening is readable by all staff, but one outside your regions answers 404
    `job_not_found` here, and moving a job to a region outside them 404 `region_not_found`.
    Audited. The result must
    be a job one could post: a known `region_code`, `wage_min` not above `wage_max`, and, while
    open, a `valid_until` not in the past. So reopening an expired job (`status: open`) takes a
    new `valid_until` in the same change; closing a job, or correcting a closed one, does not.
    Each refusal answers 422 `validation_failed` naming the field, as posting does."""
    return await service.update_job(session, caller, job_id, body)


@router.post(
    "/job-pushes",
    summary="Push a job to labourers",
    name="push",
    status_code=status.HTTP_201_CREATED,
    response_model=PushOutcomes,
    responses={
        200: {
            "model": PushOutcomes,
            "description": "Every member already had this job's push: nothing was pushed.",
        },
        **problem_responses(JobNotFound, MemberNotFound, JobClosed, NotLabourForce),
    },
)
async def push_job(
    body: PushIn, caller: Staff, session: Session, response: Response
) -> PushOutcomes:
    """Pushes an open job to members of your villages who are labour force (others: 422).
    Each new push joins the member's latest round while it has fewer than 5 jobs, else opens
    the next; policy asks for at least 3 full rounds.

    Safe to retry: a member who already has this job's push keeps it and gets no second one,
    and no round moves for them. The answer lists every requested member's push, in the order
    asked (`items`), with `created` true for those pushed by this request and false for those that
    already existed. 201 when at least one push was created, 200 when none was."""
    outcomes = await pushes.push_job(session, caller, body.job_id, body.member_ids)
    if not any(outcome.created for outcome in outcomes):
        response.status_code = status.HTTP_200_OK
    return PushOutcomes(items=outcomes)


@router.get(
    "/job-pushes/below-policy",
    summary="Labourers short of push rounds",
    response_model=BelowPolicyPage,
)
async def below_policy(
    caller: Staff,
    session: ReadSession,
    page: Pagination,
    region: Annotated[
        str | None, Query(pattern=r"^\d{12}$", description="A region: everything under it")
    ] = None,
) -> BelowPolicyPage:
    """Labourers in your scope with an intent of 外出 or 就近 who have fewer full rounds of
    pushes than policy asks (3 rounds of 5 jobs), by village."""
    items, cursor = await progress.below_policy(session, caller, page, region)
    return BelowPolicyPage(items=items, next_cursor=cursor)


@router.patch(
    "/job-pushes/{push_id:uuid}",
    summary="Record what became of a push",
    response_model=PushOut,
    responses=problem_responses(PushNotFound, NotFound, IllegalTransition),
)
async def record_result(
    push_id: uuid.UUID, body: PushResultIn, caller: Staff, session: Session
) -> PushOut:
    """pushed → viewed → interested → interviewed → hired, forward only; `declined` (with a
    reason) from any state before the end. Anything else answers 409. A hire records the
    member's employment for this month (务工, at the job's location and employer; months and
    income already recorded stay). A member who has moved out of your villages since the
    push is still hired on it; their employment is then left to their new village's staff."""
    return await pushes.record_result(
        session, caller, push_id, PushStatus(body.result), body.reason
    )


@router.get(
    "/members/{member_id}/job-pushes",
    summary="Jobs pushed to a member",
    response_model=PushPage,
    responses=problem_responses(MemberNotFound),
)
async def member_pushes(
    member_id: uuid.UUID, caller: Staff, session: ReadSession, page: Pagination
) -> PushPage:
    """Every push to the member, latest round first."""
    items, cursor = await pushes.member_pushes(session, caller, member_id, page)
    return PushPage(items=items, next_cursor=cursor)


@router.get(
    "/members/{member_id}/push-progress",
    summary="A member's push rounds against policy",
    response_model=PushProgress,
    responses=problem_responses(MemberNotFound),
)
async def push_progress(member_id: uuid.UUID, caller: Staff, session: ReadSession) -> PushProgress:
    """Rounds opened, rounds full, jobs pushed, and whether the 3×5 policy is met."""
    return await progress.member_progress(session, caller, member_id)


@router.get(
    "/members/{member_id}/job-matches",
    summary="Jobs ranked for a member",
    name="member_matches",
    response_model=JobMatchPage,
    responses=problem_responses(MemberNotFound, NotLabourForce),
)
async def job_matches(
    member_id: uuid.UUID,
    caller: Staff,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=100, description="How many to return")] = 20,
) -> JobMatchPage:
    """Open, unexpired jobs ranked for the member, best first, each with its score and the
    reasons for it: the best `limit` in one page (`next_cursor` is always null). Heavy-labour
    jobs are never offered to 弱劳动力或半劳动力; jobs already pushed to the member stay in
    the list but rank lower (`already_pushed`)."""
    items = await matching.matches(session, caller, member_id, limit)
    return JobMatchPage(items=items, next_cursor=None)


@router.get("/me/job-pushes", summary="Jobs pushed to me", response_model=PushPage)
async def my_pushes(caller: Villager, session: Session, page: Pagination) -> PushPage:
    """For a villager bound to a member record: the jobs pushed to them, latest round first.
    Reading a page counts as seeing it: its pushes still `pushed` become `viewed` (audited)
    and are answered so. Later states are left as they are; staff reading a member's pushes
    never mark them viewed."""
    items, cursor = await pushes.my_pushes(session, caller, page)
    return PushPage(items=items, next_cursor=cursor)


@router.post(
    "/me/job-pushes/{push_id}/response",
    summary="Answer a job pushed to me",
    response_model=PushOut,
    responses=problem_responses(PushNotFound, IllegalTransition, ValidationFailed),
)
async def respond(
    push_id: uuid.UUID,
    body: PushResponseIn,
    caller: Villager,
    session: Session,
) -> PushOut:
    """Interested, or not (optionally saying why). Someone interested may still decline; saying
    interested again, or answering a push already hired or declined, answers 409."""
    return await pushes.respond(session, caller, push_id, body.interested, body.reason)
