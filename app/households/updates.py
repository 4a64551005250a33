"""Many members' employment and intent at once (a visit, later an import): set-based.

One read of the current rows (locked), one upsert per table, one batch of audit rows, whatever
the number of members. The caller has already checked the members are in scope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.service import Actor
from app.households.models import MemberEmployment, MemberIntent
from app.households.schemas import EmploymentIn, IntentIn
from app.policy.values import ObservationSource


@dataclass(frozen=True, slots=True)
class MemberFindings:
    member_id: uuid.UUID
    employment: EmploymentIn | None = None
    intent: IntentIn | None = None


def employment_values(
    body: EmploymentIn, source: ObservationSource, at: datetime
) -> dict[str, Any]:
    return {
        "status": body.status.value,
        "work_region": body.region.value if body.region else None,
        "channel": body.channel.value if body.channel else None,
        "employer": body.employer,
        "months": body.months,
        "income": body.income,
        "source": source.value,
        "observed_at": body.observed_at or at,
    }


def intent_values(body: IntentIn, source: ObservationSource) -> dict[str, Any]:
    return {
        "intent": body.intent.value,
        "reason": (body.reason or "").strip() or None,
        "training_needs": body.training_needs,
        "wanted_job_types": body.wanted_job_types,
        "source": source.value,
    }


def _upsert(model: type[Any], keys: tuple[str, ...]) -> Any:
    table = model.__table__
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={c.name: statement.excluded[c.name] for c in table.c if c.name not in keys},
    )


_UPSERT_EMPLOYMENT = _upsert(MemberEmployment, ("member_id", "period"))
_UPSERT_INTENT = _upsert(MemberIntent, ("member_id",))


def _diff(old: Any | None, new: dict[str, Any], unaudited: tuple[str, ...]) -> dict[str, Any]:
    return {
        key: (getattr(old, key) if old is not None else None, value)
        for key, value in new.items()
        if key not in unaudited and (old is None or getattr(old, key) != value)
    }


async def apply_findings(
    session: AsyncSession,
    actor: Actor,
    *,
    region_code: str,
    period: str,
    findings: list[MemberFindings],
    source: ObservationSource,
    observed_at: datetime,
) -> None:
    # The audit rows added along the way go out in one insert at commit, not one autoflush
    # before each following query.
    with session.no_autoflush:
        now = datetime.now(UTC)
        employment = {f.member_id: f.employment for f in findings if f.employment is not None}
        intents = {f.member_id: f.intent for f in findings if f.intent is not None}
        if employment:
            current = {
                row.member_id: row
                # Plain rows, not ORM objects: read once to diff for the audit, never changed.
                for row in await session.execute(
                    select(MemberEmployment.__table__)
                    .where(
                        MemberEmployment.member_id.in_(employment),
                        MemberEmployment.period == period,
                    )
                    .with_for_update()
                )
            }
            rows = []
            for member_id, body in employment.items():
                values = employment_values(body, source, observed_at)
                old = current.get(member_id)
                changes = _diff(old, values, ("observed_at",))
                audit.record(
                    session,
                    actor,
                    action="update" if old else "create",
                    entity="member_employment",
                    entity_id=member_id,
                    region_code=region_code,
                    changes=changes if old else {"period": (None, period), **changes},
                )
                rows.append({"member_id": member_id, "period": period, **values, "updated_at": now})
            # One statement, many parameter sets: compiled once, cached, sent as one batch.
            await session.execute(_UPSERT_EMPLOYMENT, rows)
        if intents:
            current_intents = {
                row.member_id: row
                for row in await session.execute(
                    select(MemberIntent.__table__)
                    .where(MemberIntent.member_id.in_(intents))
                    .with_for_update()
                )
            }
            rows = []
            for member_id, body in intents.items():
                values = intent_values(body, source)
                old = current_intents.get(member_id)
                audit.record(
                    session,
                    actor,
                    action="update" if old else "create",
                    entity="member_intent",
                    entity_id=member_id,
                    region_code=region_code,
                    changes=_diff(old, values, ()),
                )
                rows.append(
                    {
                        "member_id": member_id,
                        **values,
                        "observed_at": observed_at,
                        "updated_at": now,
                    }
                )
            await session.execute(_UPSERT_INTENT, rows)
