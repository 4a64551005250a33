"""Recording visits: idempotent by the phone's id, member updates in the same transaction."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.service import Actor
from app.auth.deps import Principal
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import InvalidCursor, PageRequest, next_cursor
from app.core.periods import current_period
from app.households import service as households
from app.households.models import Household, Member
from app.policy.values import ObservationSource
from app.regions.models import Region
from app.visits.models import Visit
from app.visits.schemas import Location, VisitIn, VisitOut

EARTH_RADIUS_M = 6_371_000


class VisitIdConflict(Conflict):
    code, title = "idempotency_conflict", "该走访编号已用于另一条不同的记录"


class MemberNotInHousehold(ValidationFailed):
    code, title = "member_not_in_household", "成员不属于该户"


def request_hash(body: VisitIn) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def distance_m(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> int:
    """Great-circle distance (haversine), in whole metres."""
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_RADIUS_M * math.asin(math.sqrt(h)))


def visit_out(visit: Visit) -> VisitOut:
    location = Location(lat=visit.lat, lon=visit.lon) if visit.lat is not None else None
    return VisitOut.model_validate(
        {
            **{c: getattr(visit, c) for c in VisitOut.model_fields if c != "location"},
            "location": location,
        }
    )


async def _replay(session: AsyncSession, body: VisitIn, digest: str) -> VisitOut | None:
    """The stored visit when this id was seen before with the same body; 409 if not the same."""
    stored = await session.get(Visit, body.id)
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise VisitIdConflict("同一走访编号的内容与已保存的不同，请为新的走访生成新的编号")
    return visit_out(stored)


async def record_visit(
    session: AsyncSession,
    principal: Principal,
    actor: Actor,
    body: VisitIn,
    max_distance_km: float,
) -> tuple[VisitOut, bool]:
    """The visit and whether it was created now (False: an identical retry)."""
    digest = request_hash(body)
    replay = await _replay(session, body, digest)
    if replay is not None:
        return replay, False
    household = await session.scalar(
        select(Household).where(
            Household.id == body.household_id, households.visible_households(principal)
        )
    )
    if household is None:
        raise households.HouseholdNotFound()
    await _check_members(session, household.id, body)
    village = await session.get(Region, household.village_code)
    visit = Visit(
        id=body.id,
        household_id=household.id,
        coordinator_id=principal.id,
        village_code=household.village_code,
        visited_at=body.visited_at.astimezone(UTC),
        method=body.method.value,
        notes=body.notes,
        request_hash=digest,
    )
    if body.location is not None:
        visit.lat, visit.lon = body.location.lat, body.location.lon
        if (
            village is not None
            and village.centre_lat is not None
            and village.centre_lon is not None
        ):
            visit.distance_m = distance_m(
                body.location.lat, body.location.lon, village.centre_lat, village.centre_lon
            )
            visit.needs_review = visit.distance_m > max_distance_km * 1000
    try:
        async with session.begin_nested():
            session.add(visit)
            await session.flush()
    except IntegrityError:
        # The same id arrived concurrently and won: answer as a retry would be answered.
        if visit in session:
            session.expunge(visit)
        replay = await _replay(session, body, digest)
        if replay is None:
            raise
        return replay, False
    period = current_period(body.visited_at)
    for update in body.member_updates:
        if update.employment is not None:
            employment = update.employment.model_copy(
                update={"observed_at": update.employment.observed_at or body.visited_at}
            )
            await households.put_employment(
                session,
                principal,
                actor,
                update.member_id,
                period,
                employment,
                source=ObservationSource.visit,
            )
        if update.intent is not None:
            await households.put_intent(
                session,
                principal,
                actor,
                update.member_id,
                update.intent,
                source=ObservationSource.visit,
            )
    audit.record(
        session,
        actor,
        action="create",
        entity="visit",
        entity_id=visit.id,
        region_code=visit.village_code,
        changes={
            "household_id": (None, household.id),
            "method": (None, visit.method),
            "needs_review": (None, visit.needs_review),
        },
    )
    return visit_out(visit), True


async def _check_members(session: AsyncSession, household_id: uuid.UUID, body: VisitIn) -> None:
    wanted = {update.member_id for update in body.member_updates}
    if not wanted:
        return
    found = set(
        (
            await session.scalars(
                select(Member.id).where(Member.id.in_(wanted), Member.household_id == household_id)
            )
        ).all()
    )
    missing = wanted - found
    if missing:
        raise MemberNotInHousehold(
            "以下成员不属于该户：" + ", ".join(sorted(str(m) for m in missing))
        )


@dataclass(frozen=True, slots=True)
class VisitFilters:
    household_id: uuid.UUID | None = None
    coordinator_id: uuid.UUID | None = None
    visited_from: datetime | None = None
    visited_to: datetime | None = None


async def list_visits(
    session: AsyncSession, principal: Principal, filters: VisitFilters, page: PageRequest
) -> tuple[list[VisitOut], str | None]:
    statement = (
        select(Visit)
        .where(principal.scope.region_filter(Visit.village_code))
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(page.limit + 1)
    )
    if filters.household_id:
        statement = statement.where(Visit.household_id == filters.household_id)
    if filters.coordinator_id:
        statement = statement.where(Visit.coordinator_id == filters.coordinator_id)
    if filters.visited_from:
        statement = statement.where(Visit.visited_at >= filters.visited_from)
    if filters.visited_to:
        statement = statement.where(Visit.visited_at < filters.visited_to)
    if page.after:
        try:
            at, last = datetime.fromisoformat(str(page.after[0])), uuid.UUID(str(page.after[1]))
        except (ValueError, IndexError) as exc:
            raise InvalidCursor("游标无法解析，请从第一页重新开始") from exc
        statement = statement.where(
            or_(Visit.visited_at < at, and_(Visit.visited_at == at, Visit.id < last))
        )
    rows = list((await session.scalars(statement)).all())
    rows, cursor = next_cursor(rows, page.limit, lambda v: [v.visited_at.isoformat(), str(v.id)])
    return [visit_out(v) for v in rows], cursor
