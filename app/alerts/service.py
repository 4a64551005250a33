"""Reading alerts and a person's steps on them: acknowledging, and resolving with the action
taken. Every step is audited in its transaction.

Who sees what: a coordinator the alerts of their villages, a manager those of their region
(regional alerts of townships and villages in it included), an admin all; a villager none
(403 at the router). An alert out of scope answers 404, like a missing one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.errors import AlertNotFound, IllegalAlertTransition
from app.alerts.models import Alert
from app.alerts.schemas import AlertOut, AlertResolutionIn
from app.audit import service as audit
from app.core.caller import Principal
from app.core.pagination import PageRequest, newest_first, newest_first_key, next_cursor
from app.core.scope import code_range, contains
from app.households.models import Member
from app.policy.alerts import RULES, AlertRule, AlertStatus
from app.regions.errors import RegionNotFound

S = AlertStatus


@dataclass(frozen=True, slots=True)
class AlertFilters:
    period: str | None = None
    rule: AlertRule | None = None
    status: AlertStatus | None = None
    region: str | None = None


def _with_member() -> Select[Any]:
    return select(Alert, Member.name).outerjoin(Member, Member.id == Alert.member_id)


def _out(alert: Alert, member_name: str | None) -> AlertOut:
    return AlertOut(
        id=alert.id,
        rule=AlertRule(alert.rule),
        title=RULES[AlertRule(alert.rule)].title,
        kind=alert.kind,
        subject=alert.subject,
        county_code=alert.county_code,
        region_code=alert.region_code,
        household_id=alert.household_id,
        member_id=alert.member_id,
        member_name=member_name,
        status=AlertStatus(alert.status),
        opened_period=alert.opened_period,
        last_period=alert.last_period,
        ended_period=alert.ended_period,
        months=alert.months,
        evidence=alert.evidence,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
        resolution_action=alert.resolution_action,
        resolution_note=alert.resolution_note,
        version=alert.version,
        created_at=alert.created_at,
        updated_at=alert.updated_at,
    )


def _check_region(principal: Principal, region: str) -> None:
    """A `region=` filter must meet the caller's scope: a region within it, or one holding
    some of it (a coordinator's township); any other is out of scope (404)."""
    scope = principal.scope
    if scope.covers(region):
        return
    if any(contains(region, code) for code in scope.region_codes):
        return
    raise RegionNotFound()


async def list_alerts(
    session: AsyncSession, principal: Principal, filters: AlertFilters, page: PageRequest
) -> tuple[list[AlertOut], str | None]:
    """Alerts in scope, newest first. `period`: the episodes that cover the month (opened in
    it or before, and found by a run in it or after)."""
    statement = _with_member().where(principal.scope.region_filter(Alert.region_code))
    if filters.region is not None:
        _check_region(principal, filters.region)
        low, high = code_range(filters.region)
        statement = statement.where(Alert.region_code.between(low, high))
    if filters.period is not None:
        statement = statement.where(
            Alert.opened_period <= filters.period, Alert.last_period >= filters.period
        )
    if filters.rule is not None:
        statement = statement.where(Alert.rule == filters.rule.value)
    if filters.status is not None:
        statement = statement.where(Alert.status == filters.status.value)
    statement = newest_first(statement, Alert.created_at, Alert.id, page)
    rows = list((await session.execute(statement)).all())
    rows, cursor = next_cursor(
        rows, page.limit, lambda row: newest_first_key(row[0].created_at, row[0].id)
    )
    return [_out(alert, name) for alert, name in rows], cursor


async def get_alert(session: AsyncSession, principal: Principal, alert_id: uuid.UUID) -> AlertOut:
    row = (
        await session.execute(
            _with_member().where(
                Alert.id == alert_id, principal.scope.region_filter(Alert.region_code)
            )
        )
    ).one_or_none()
    if row is None:
        raise AlertNotFound()
    return _out(row[0], row[1])


async def _locked(
    session: AsyncSession, principal: Principal, alert_id: uuid.UUID
) -> tuple[Alert, str | None]:
    row = (
        await session.execute(
            _with_member()
            .where(Alert.id == alert_id, principal.scope.region_filter(Alert.region_code))
            .with_for_update(of=Alert)
        )
    ).one_or_none()
    if row is None:
        raise AlertNotFound()
    return row[0], row[1]


def _step(
    session: AsyncSession,
    principal: Principal,
    alert: Alert,
    action: str,
    changes: dict[str, tuple[object, object]],
    now: datetime,
) -> None:
    alert.version += 1
    alert.updated_at = now
    audit.record(
        session,
        principal.actor,
        action=action,
        entity="alert",
        entity_id=alert.id,
        region_code=alert.region_code,
        changes=changes,
    )


async def acknowledge(session: AsyncSession, principal: Principal, alert_id: uuid.UUID) -> AlertOut:
    """open → acknowledged: someone has seen it and is on it."""
    alert, name = await _locked(session, principal, alert_id)
    if alert.status != S.open:
        raise IllegalAlertTransition("只能确认待处理（open）的预警")
    now = datetime.now(UTC)
    alert.status, alert.acknowledged_at, alert.acknowledged_by = S.acknowledged, now, principal.id
    _step(session, principal, alert, "acknowledge", {"status": (S.open, S.acknowledged)}, now)
    await session.flush()
    await session.refresh(alert)  # `months` is the database's (a generated column)
    return _out(alert, name)


async def resolve(
    session: AsyncSession, principal: Principal, alert_id: uuid.UUID, body: AlertResolutionIn
) -> AlertOut:
    """open or acknowledged → resolved, with the action taken and a note. Resolving an open
    alert acknowledges it in the same step. The episode stays current while its condition
    holds (the runs keep counting its months) and ends when the condition stops."""
    alert, name = await _locked(session, principal, alert_id)
    old = AlertStatus(alert.status)
    if old not in (S.open, S.acknowledged):
        raise IllegalAlertTransition("只能办结待处理或已确认的预警")
    now = datetime.now(UTC)
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = now, principal.id
    alert.status, alert.resolved_at, alert.resolved_by = S.resolved, now, principal.id
    alert.resolution_action, alert.resolution_note = body.action.value, body.note
    _step(
        session,
        principal,
        alert,
        "resolve",
        {"status": (old, S.resolved), "resolution_action": (None, body.action)},
        now,
    )
    await session.flush()
    await session.refresh(alert)  # `months` is the database's (a generated column)
    return _out(alert, name)
