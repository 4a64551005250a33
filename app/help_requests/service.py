"""Filing help requests, reading them, and moving them along their lifecycle.

Every step is stamped (when, by whom), written to the request's thread, audited, and told to
whom it concerns through the outbox, all in the step's transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.models import UserAccount
from app.core.caller import Principal, Role
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.core.scope import RegionLevel, level_of, parent_of
from app.help_requests import notices, settings
from app.help_requests.errors import (
    CoordinatorsOnly,
    HelpRequestIdConflict,
    HelpRequestNotFound,
    IllegalTransition,
    NotBoundToMember,
    StaffFileForAMember,
)
from app.help_requests.models import (
    DeadlineKind,
    EventKind,
    HelpRequest,
    HelpRequestEvent,
    HelpStatus,
)
from app.help_requests.schemas import (
    EventOut,
    HelpRequestDetail,
    HelpRequestIn,
    HelpRequestOut,
)
from app.help_requests.views import request_out, visible, with_member_name
from app.households import service as households
from app.households.errors import MemberNotFound
from app.policy import help_requests as policy

S = HelpStatus
# The states each step may start from; anything else answers 409.
_FROM: dict[EventKind, frozenset[HelpStatus]] = {
    EventKind.accepted: frozenset({S.submitted, S.referred}),
    EventKind.referred: frozenset({S.submitted}),
    EventKind.resolved: frozenset({S.accepted, S.in_progress}),
    EventKind.withdrawn: frozenset({S.submitted, S.referred, S.accepted, S.in_progress}),
    EventKind.rated: frozenset({S.resolved}),
}
# Staff write in the thread once they have accepted; the villager whenever it is open.
_STAFF_REPLY_FROM = frozenset({S.accepted, S.in_progress, S.resolved})
_VILLAGER_REPLY_FROM = frozenset({S.submitted, S.referred, S.accepted, S.in_progress, S.resolved})
_ILLEGAL = {
    EventKind.accepted: "只能受理待受理或已转交的求助",
    EventKind.referred: "只能转交尚未受理的求助",
    EventKind.resolved: "只能办结已受理或办理中的求助",
    EventKind.withdrawn: "已办结、已评价或已撤回的求助不能撤回",
    EventKind.rated: "只能评价已办结且尚未评价的求助",
}


def _now() -> datetime:
    return datetime.now(UTC)


async def file_request(
    session: AsyncSession, principal: Principal, body: HelpRequestIn
) -> tuple[HelpRequestOut, bool]:
    """The request and whether it was created now (False: an identical retry)."""
    if principal.role is Role.villager:
        own = principal.user.member_id
        if own is None:
            raise NotBoundToMember()
        if body.member_id not in (None, own):
            raise MemberNotFound()
        member_id = own
    else:
        if body.member_id is None:  # staff ask on a villager's behalf, never for themselves
            raise StaffFileForAMember()
        member_id = body.member_id
    member, household = await households.member_in_scope(session, principal, member_id)
    village = household.village_code
    # The village's coordinators, or the township's managers when the village has none.
    routed_to = village if await notices.handlers(session, village) else parent_of(village)
    assert routed_to is not None
    now = _now()
    hours = await settings.first_response_hours(session, village)
    marks = policy.marks(now, policy.first_response_length(hours))
    digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    inserted = await session.scalar(
        insert(HelpRequest)
        .values(
            id=body.id,
            member_id=member.id,
            village_code=village,
            routed_to=routed_to,
            category=body.category.value,
            description=body.description,
            contact_method=body.contact.method.value,
            contact_note=body.contact.note,
            status=S.submitted.value,
            filed_by=principal.id,
            request_hash=digest,
            created_at=now,
            updated_at=now,
            deadline=DeadlineKind.response.value,
            due_soon_at=marks.due_soon_at,
            due_at=marks.due_at,
            county_at=marks.county_at,
        )
        .on_conflict_do_nothing(index_elements=[HelpRequest.id])
        .returning(HelpRequest.id)
    )
    if inserted is None:
        stored, name = (
            await session.execute(with_member_name().where(HelpRequest.id == body.id))
        ).one()
        if stored.request_hash != digest or stored.filed_by != principal.id:
            raise HelpRequestIdConflict(
                "同一求助编号的内容与已保存的不同，请为新的求助生成新的编号"
            )
        return request_out(stored, name, now), False
    request, name = (
        await session.execute(with_member_name().where(HelpRequest.id == body.id))
    ).one()
    _thread(session, principal, request, EventKind.submitted, body.description)
    audit.record(
        session,
        principal.actor,
        action="create",
        entity="help_request",
        entity_id=request.id,
        region_code=village,
        changes={
            "status": (None, S.submitted),
            "category": (None, body.category),
            "routed_to": (None, routed_to),
        },
    )
    await notices.tell(
        session,
        request,
        await notices.handlers(session, routed_to),
        event="help_request.submitted",
        title="新的求助",
        body=f"{name}：{body.category.value}",
    )
    await session.flush()
    return request_out(request, name, now), True


def _thread(
    session: AsyncSession,
    principal: Principal,
    request: HelpRequest,
    kind: EventKind,
    message: str = "",
) -> None:
    actor = principal.actor
    session.add(
        HelpRequestEvent(
            request_id=request.id,
            kind=kind.value,
            actor_id=actor.user_id,
            actor_role=actor.role,
            message=message,
        )
    )


async def _locked(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> tuple[HelpRequest, str]:
    row = (
        await session.execute(
            with_member_name()
            .where(HelpRequest.id == request_id, visible(principal))
            .with_for_update(of=HelpRequest)
        )
    ).one_or_none()
    if row is None:
        raise HelpRequestNotFound()
    return row[0], row[1]


def _check(request: HelpRequest, step: EventKind) -> None:
    if HelpStatus(request.status) not in _FROM[step]:
        raise IllegalTransition(_ILLEGAL[step])


def _clear_deadline(request: HelpRequest) -> None:
    request.deadline = request.due_soon_at = request.due_at = request.county_at = None


def _start_deadline(request: HelpRequest, kind: DeadlineKind, marks: policy.Marks) -> None:
    request.deadline = kind.value
    request.due_soon_at, request.due_at, request.county_at = (
        marks.due_soon_at,
        marks.due_at,
        marks.county_at,
    )


async def _step(
    session: AsyncSession,
    principal: Principal,
    request: HelpRequest,
    kind: EventKind,
    status: HelpStatus | None,
    *,
    message: str = "",
    now: datetime,
    reason: str | None = None,
    changes: dict[str, tuple[object, object]] | None = None,
) -> None:
    """Stamps a step: status, thread entry, audit row."""
    old = HelpStatus(request.status)
    changes = dict(changes or {})
    if status is not None and status is not old:
        request.status = status.value
        changes["status"] = (old, status)
    request.updated_at = now
    _thread(session, principal, request, kind, message)
    audit.record(
        session,
        principal.actor,
        action=kind.value,
        entity="help_request",
        entity_id=request.id,
        region_code=request.village_code,
        changes=changes,
        reason=reason,
    )
    await session.flush()


async def accept(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> HelpRequestOut:
    request, name = await _locked(session, principal, request_id)
    _check(request, EventKind.accepted)
    if (
        principal.role is Role.coordinator
        and level_of(request.routed_to) is not RegionLevel.village
    ):
        raise IllegalTransition("该求助已由乡镇办理，协理员不能受理")
    now = _now()
    request.accepted_at, request.accepted_by = now, principal.id
    if request.category == policy.TRAINING_CATEGORY:
        _start_deadline(request, DeadlineKind.training, policy.marks(now, policy.training_length()))
    else:
        _clear_deadline(request)
    await _step(session, principal, request, EventKind.accepted, S.accepted, now=now)
    await notices.tell(
        session,
        request,
        await notices.villagers_of(session, request.member_id),
        event="help_request.accepted",
        title="您的求助已受理",
        body=f"{request.category}：工作人员已受理，将尽快联系您",
    )
    return request_out(request, name, now)


async def refer(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, reason: str
) -> HelpRequestOut:
    """A coordinator hands a request not yet accepted to the township's managers."""
    if principal.role is not Role.coordinator:
        raise CoordinatorsOnly()
    request, name = await _locked(session, principal, request_id)
    _check(request, EventKind.referred)
    township = parent_of(request.village_code)
    assert township is not None
    now = _now()
    old_route = request.routed_to
    request.routed_to, request.referred_at, request.referred_by = township, now, principal.id
    hours = await settings.first_response_hours(session, request.village_code)
    _start_deadline(
        request,
        DeadlineKind.referral,
        policy.marks(now, policy.first_response_length(hours)),
    )
    await _step(
        session,
        principal,
        request,
        EventKind.referred,
        S.referred,
        message=reason,
        now=now,
        reason=f"routed_to {old_route} → {township}",
    )
    await notices.tell(
        session,
        request,
        await notices.handlers(session, township),
        event="help_request.referred",
        title="村里转交的求助",
        body=f"{name}：{request.category}",
    )
    return request_out(request, name, now)


async def respond(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, message: str
) -> HelpRequestOut:
    """A message in the thread, from staff or from the villager who asked. Staff's first
    message on an accepted request puts it in progress."""
    request, name = await _locked(session, principal, request_id)
    status = HelpStatus(request.status)
    villager = principal.role is Role.villager
    if status not in (_VILLAGER_REPLY_FROM if villager else _STAFF_REPLY_FROM):
        raise IllegalTransition("该求助已关闭，不能再留言" if villager else "请先受理求助再回复")
    now = _now()
    moved = S.in_progress if not villager and status is S.accepted else None
    await _step(session, principal, request, EventKind.replied, moved, message=message, now=now)
    if villager:
        recipients = await notices.handlers(session, request.routed_to)
        if request.accepted_by is not None:
            recipients.append(request.accepted_by)
    else:
        recipients = await notices.villagers_of(session, request.member_id)
    await notices.tell(
        session,
        request,
        recipients,
        event="help_request.replied",
        title="求助有新回复",
        body=message[:60],
    )
    return request_out(request, name, now)


async def resolve(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, summary: str
) -> HelpRequestOut:
    request, name = await _locked(session, principal, request_id)
    _check(request, EventKind.resolved)
    now = _now()
    request.resolved_at, request.resolved_by = now, principal.id
    _clear_deadline(request)
    await _step(
        session, principal, request, EventKind.resolved, S.resolved, message=summary, now=now
    )
    await notices.tell(
        session,
        request,
        await notices.villagers_of(session, request.member_id),
        event="help_request.resolved",
        title="您的求助已办结",
        body="请对办理结果进行评价",
    )
    return request_out(request, name, now)


async def withdraw(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> HelpRequestOut:
    request, name = await _locked(session, principal, request_id)
    _check(request, EventKind.withdrawn)
    now = _now()
    request.withdrawn_at = now
    _clear_deadline(request)
    await _step(session, principal, request, EventKind.withdrawn, S.withdrawn, now=now)
    recipients = await notices.handlers(session, request.routed_to)
    if request.accepted_by is not None:
        recipients.append(request.accepted_by)
    await notices.tell(
        session,
        request,
        recipients,
        event="help_request.withdrawn",
        title="求助已撤回",
        body=f"{name}撤回了求助：{request.category}",
    )
    return request_out(request, name, now)


async def rate(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, score: int, comment: str
) -> HelpRequestOut:
    request, name = await _locked(session, principal, request_id)
    _check(request, EventKind.rated)
    now = _now()
    request.rated_at, request.rating_score, request.rating_comment = now, score, comment
    # The score is kept for evaluating the staff who handled it.
    await _step(
        session,
        principal,
        request,
        EventKind.rated,
        S.rated,
        message=comment,
        now=now,
        changes={"rating_score": (None, score)},
    )
    recipients = [u for u in (request.accepted_by, request.resolved_by) if u is not None]
    await notices.tell(
        session,
        request,
        recipients,
        event="help_request.rated",
        title="求助已评价",
        body=f"{name}评价：{score} 分",
    )
    return request_out(request, name, now)


async def get_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> HelpRequestDetail:
    row = (
        await session.execute(
            with_member_name().where(HelpRequest.id == request_id, visible(principal))
        )
    ).one_or_none()
    if row is None:
        raise HelpRequestNotFound()
    request, name = row
    events = (
        await session.execute(
            select(HelpRequestEvent, UserAccount.display_name, UserAccount.role)
            .outerjoin(UserAccount, UserAccount.id == HelpRequestEvent.actor_id)
            .where(HelpRequestEvent.request_id == request.id)
            .order_by(HelpRequestEvent.occurred_at, HelpRequestEvent.id)
        )
    ).all()
    thread = [
        EventOut(
            id=event.id,
            kind=EventKind(event.kind),
            actor_id=event.actor_id,
            actor_role=event.actor_role,
            # The villager who asked is named as the registry knows them.
            actor_name=name if event.actor_role == Role.villager else (display or ""),
            message=event.message,
            occurred_at=event.occurred_at,
        )
        for event, display, _ in events
    ]
    out = request_out(request, name, _now())
    return HelpRequestDetail(**out.model_dump(), events=thread)


@dataclass(frozen=True, slots=True)
class RequestFilters:
    status: HelpStatus | None = None
    category: str | None = None


async def list_requests(
    session: AsyncSession, principal: Principal, filters: RequestFilters, page: PageRequest
) -> tuple[list[HelpRequestOut], str | None]:
    statement = with_member_name().where(visible(principal))
    if filters.status is not None:
        statement = statement.where(HelpRequest.status == filters.status.value)
    if filters.category is not None:
        statement = statement.where(HelpRequest.category == filters.category)
    statement = newest_first(statement, HelpRequest.created_at, HelpRequest.id, page)
    rows = list((await session.execute(statement)).all())
    rows, cursor = next_cursor(
        rows, page.limit, lambda row: newest_first_key(row[0].created_at, row[0].id)
    )
    now = _now()
    return [request_out(request, name, now) for request, name in rows], cursor
