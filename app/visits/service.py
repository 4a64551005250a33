"""Recording visits: idempotent by the phone's id, member updates in the same transaction."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.service import Actor
from app.auth.deps import Principal
from app.core.errors import Conflict, ValidationFailed
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.core.periods import current_period
from app.households import service as households
from app.households.models import Household, Member
from app.households.updates import MemberFindings, apply_findings
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
    """The visit and whether it was created now (False: an identical retry).

    A handful of statements whatever the number of member updates: phones upload visits in
    bursts when they come back online."""
    digest = request_hash(body)
    found = (
        await session.execute(
            select(Household.id, Household.village_code, Region.centre_lat, Region.centre_lon)
            .outerjoin(Region, Region.code == Household.village_code)
            .where(Household.id == body.household_id, households.visible_households(principal))
        )
    ).one_or_none()
    if found is None:
        raise households.HouseholdNotFound()
    household_id, village_code, centre_lat, centre_lon = found
    await _check_members(session, household_id, body)
    values: dict[str, object] = {
        "id": body.id,
        "household_id": household_id,
        "coordinator_id": principal.id,
        "village_code": village_code,
        "visited_at": body.visited_at.astimezone(UTC),
        "method": body.method.value,
        "notes": body.notes,
        "request_hash": digest,
        "lat": body.location.lat if body.location else None,
        "lon": body.location.lon if body.location else None,
        "distance_m": None,
        "needs_review": False,
    }
    if body.location is not None and centre_lat is not None and centre_lon is not None:
        distance = distance_m(body.location.lat, body.location.lon, centre_lat, centre_lon)
        values["distance_m"] = distance
        values["needs_review"] = distance > max_distance_km * 1000
    # A concurrent or earlier upload of the same id wins the insert; this one then answers as
    # a retry (or 409 when its body differs).
    created_at = await session.scalar(
        insert(Visit)
        .values(values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(Visit.created_at)
    )
    if created_at is None:
        replay = await _replay(session, body, digest)
        assert replay is not None
        return replay, False
    await apply_findings(
        session,
        actor,
        region_code=village_code,
        period=current_period(body.visited_at),
        findings=[
            MemberFindings(u.member_id, employment=u.employment, intent=u.intent)
            for u in body.member_updates
        ],
        source=ObservationSource.visit,
        observed_at=body.visited_at,
    )
    audit.record(
        session,
        actor,
        action="create",
        entity="visit",
        entity_id=body.id,
        region_code=village_code,
        changes={
            "household_id": (None, household_id),
            "method": (None, body.method.value),
            "needs_review": (None, values["needs_review"]),
        },
    )
    location = body.location
    return VisitOut.model_validate({**values, "location": location, "created_at": created_at}), True


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
    statement = select(Visit).where(principal.scope.region_filter(Visit.village_code))
    if filters.household_id:
        statement = statement.where(Visit.household_id == filters.household_id)
    if filters.coordinator_id:
        statement = statement.where(Visit.coordinator_id == filters.coordinator_id)
    if filters.visited_from:
        statement = statement.where(Visit.visited_at >= filters.visited_from)
    if filters.visited_to:
        statement = statement.where(Visit.visited_at < filters.visited_to)
    statement = newest_first(statement, Visit.visited_at, Visit.id, page)
    rows = list((await session.scalars(statement)).all())
    rows, cursor = next_cursor(rows, page.limit, lambda v: newest_first_key(v.visited_at, v.id))
    return [visit_out(v) for v in rows], cursor
