"""Requests as answered: who may see which, and their shape."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, false, select

from app.core.caller import Principal, Role
from app.help_requests.models import DeadlineKind, HelpRequest, HelpStatus
from app.help_requests.schemas import ContactOut, DeadlineOut, HelpRequestOut, RatingOut
from app.households.models import Member
from app.policy.values import ContactMethod, HelpCategory


def visible(principal: Principal) -> ColumnElement[bool]:
    """The requests a caller may see, as SQL: their own for a villager (by their member),
    those of their regions for staff."""
    if principal.role is Role.villager:
        member_id = principal.user.member_id
        return HelpRequest.member_id == member_id if member_id is not None else false()
    return principal.scope.region_filter(HelpRequest.village_code)


def with_member_name() -> Select[tuple[HelpRequest, str]]:
    return select(HelpRequest, Member.name).join(Member, Member.id == HelpRequest.member_id)


def deadline_out(request: HelpRequest, now: datetime) -> DeadlineOut | None:
    if request.deadline is None or request.due_at is None or request.due_soon_at is None:
        return None
    if now >= request.due_at:
        state = "overdue"
    elif now >= request.due_soon_at:
        state = "due_soon"
    else:
        state = "on_time"
    return DeadlineOut(
        kind=DeadlineKind(request.deadline),
        due_soon_at=request.due_soon_at,
        due_at=request.due_at,
        state=state,
    )


def request_out(request: HelpRequest, member_name: str, now: datetime) -> HelpRequestOut:
    rating = None
    if request.rating_score is not None and request.rated_at is not None:
        rating = RatingOut(
            score=request.rating_score,
            comment=request.rating_comment or "",
            rated_at=request.rated_at,
        )
    return HelpRequestOut(
        id=request.id,
        member_id=request.member_id,
        member_name=member_name,
        village_code=request.village_code,
        routed_to=request.routed_to,
        category=HelpCategory(request.category),
        description=request.description,
        contact=ContactOut(method=ContactMethod(request.contact_method), note=request.contact_note),
        status=HelpStatus(request.status),
        filed_by=request.filed_by,
        created_at=request.created_at,
        updated_at=request.updated_at,
        accepted_at=request.accepted_at,
        accepted_by=request.accepted_by,
        referred_at=request.referred_at,
        resolved_at=request.resolved_at,
        resolved_by=request.resolved_by,
        withdrawn_at=request.withdrawn_at,
        training_enrolled_at=request.training_enrolled_at,
        rating=rating,
        deadline=deadline_out(request, now),
    )
