"""What a county sets for its alerts: each rule's switch and thresholds, and the day of the
month its scheduled run happens. Who may read and change a county's settings is
`app.regions.county_settings`; the rules, their defaults and bounds are `app.policy.alerts`.

Only what differs from the defaults is stored: a threshold set to its default value (or to
null) is removed from the county's row, and a rule switched on with no thresholds of its own
has no row at all, so a county that keeps a default follows it when the policy module changes
it. `effective_rules` is the one place defaults and a county's row are merged.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.settings_models import AlertRuleSetting, AlertSchedule
from app.alerts.settings_schemas import (
    AlertSettingsIn,
    AlertSettingsOut,
    RuleSettingOut,
    ThresholdOut,
)
from app.audit import service as audit
from app.core.caller import Principal
from app.policy.alerts import DEFAULT_RUN_DAY, RULES, AlertRule, RuleSpec, Threshold
from app.regions import county_settings
from app.regions.county_settings import settings_county

# One audit entity per county for everything of its alert settings (thresholds and run day).
AUDIT_ENTITY = "alert_settings"


def settings_entity_id(county_code: str) -> uuid.UUID:
    return county_settings.setting_entity_id(AUDIT_ENTITY, county_code)


@dataclass(frozen=True, slots=True)
class RuleSetting:
    """One rule as a county runs it: its switch and every threshold (defaults merged)."""

    spec: RuleSpec
    enabled: bool
    params: dict[str, int | bool]

    @property
    def rule(self) -> AlertRule:
        return self.spec.rule


def merge(spec: RuleSpec, row: AlertRuleSetting | None) -> RuleSetting:
    """The rule's defaults overlaid with the county's row. A stored name the policy no longer
    knows is ignored."""
    params = spec.defaults()
    if row is not None:
        params.update({k: v for k, v in row.params.items() if k in params})
    return RuleSetting(spec, row.enabled if row is not None else True, params)


async def effective_rules(session: AsyncSession, county_code: str) -> list[RuleSetting]:
    """Every rule as `county_code` runs it, in the policy module's order."""
    rows = await _rows(session, county_code)
    return [merge(spec, rows.get(rule)) for rule, spec in RULES.items()]


async def run_day(session: AsyncSession, county_code: str) -> int:
    """The day of the month the county's scheduled run happens."""
    day = await session.scalar(
        select(AlertSchedule.run_day).where(AlertSchedule.county_code == county_code)
    )
    return DEFAULT_RUN_DAY if day is None else day


async def _rows(session: AsyncSession, county_code: str) -> dict[AlertRule, AlertRuleSetting]:
    rows = await session.scalars(
        select(AlertRuleSetting)
        .where(AlertRuleSetting.county_code == county_code)
        .execution_options(populate_existing=True)
    )
    return {AlertRule(row.rule): row for row in rows if row.rule in RULES}


# The API ---------------------------------------------------------------------------------------


def _threshold_out(threshold: Threshold, value: int | bool) -> ThresholdOut:
    switch = isinstance(threshold.default, bool)
    return ThresholdOut(
        name=threshold.name,
        title=threshold.title,
        value=value,
        default=threshold.default,
        minimum=None if switch else threshold.minimum,
        maximum=None if switch else threshold.maximum,
    )


async def _out(session: AsyncSession, county_code: str) -> AlertSettingsOut:
    rows = await _rows(session, county_code)
    schedule = await session.get(AlertSchedule, county_code, populate_existing=True)
    # Who last changed what is still stored; the audit log keeps every change.
    stamps = [(row.updated_at, row.updated_by) for row in rows.values()]
    if schedule is not None:
        stamps.append((schedule.updated_at, schedule.updated_by))
    updated_at, updated_by = max(stamps, key=lambda s: s[0]) if stamps else (None, None)
    return AlertSettingsOut(
        county_code=county_code,
        run_day=schedule.run_day if schedule is not None else DEFAULT_RUN_DAY,
        rules=[
            RuleSettingOut(
                rule=rule,
                title=spec.title,
                subject=spec.subject,
                kind=spec.kind,
                description=spec.description,
                enabled=setting.enabled,
                thresholds=[_threshold_out(t, setting.params[t.name]) for t in spec.thresholds],
            )
            for rule, spec in RULES.items()
            for setting in (merge(spec, rows.get(rule)),)
        ],
        updated_by=updated_by,
        updated_at=updated_at,
    )


async def get_settings(
    session: AsyncSession, principal: Principal, county_code: str | None
) -> AlertSettingsOut:
    county = await settings_county(session, principal, county_code, changing=False)
    return await _out(session, county)


def _changes_named(body: AlertSettingsIn) -> list[tuple[RuleSpec, bool | None, dict[str, Any]]]:
    """Per rule the body names: the switch (None: unchanged) and the thresholds it names
    (None: back to the default). The body's model has already checked names and bounds."""
    named = []
    rules = body.rules
    for rule in rules.model_fields_set if rules is not None else ():
        item = getattr(rules, rule)
        if item is None:
            continue
        thresholds = getattr(item, "thresholds", None)
        values = (
            {name: getattr(thresholds, name) for name in thresholds.model_fields_set}
            if thresholds is not None
            else {}
        )
        named.append((RULES[AlertRule(rule)], item.enabled, values))
    return named


async def put_settings(
    session: AsyncSession, principal: Principal, county_code: str | None, body: AlertSettingsIn
) -> AlertSettingsOut:
    """Sets what the body names (the run day, rules' switches and thresholds), audited with
    each effective value's old and new; the same values again write nothing."""
    county = await settings_county(session, principal, county_code, changing=True)
    # Two changes of one county's settings at once: one waits for the other, then merges on
    # what it wrote (the first write of a rule's row has no row to lock).
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('alert_settings:' || :county))"),
        {"county": county},
    )
    rows = await _rows(session, county)
    changes: dict[str, tuple[Any, Any]] = {}
    author = None if principal.is_system else principal.id

    if body.run_day is not None:
        old_day = await run_day(session, county)
        if body.run_day != old_day:
            changes["run_day"] = (old_day, body.run_day)
            await _set_run_day(session, county, body.run_day, author)

    for spec, switch, thresholds in _changes_named(body):
        before = merge(spec, rows.get(spec.rule))
        enabled = before.enabled if switch is None else switch
        params = dict(before.params)
        for name, value in thresholds.items():
            params[name] = spec.defaults()[name] if value is None else value
        if enabled != before.enabled:
            changes[f"{spec.rule}.enabled"] = (before.enabled, enabled)
        for name, value in params.items():
            if value != before.params[name]:
                changes[f"{spec.rule}.{name}"] = (before.params[name], value)
        if enabled == before.enabled and params == before.params:
            continue
        own = {k: v for k, v in params.items() if v != spec.defaults()[k]}
        await _set_rule(session, county, spec.rule, enabled, own, author)

    if changes:
        audit.record(
            session,
            principal.actor,
            action="update",
            entity=AUDIT_ENTITY,
            entity_id=settings_entity_id(county),
            region_code=county,
            changes=changes,
        )
        await session.flush()
    return await _out(session, county)


async def _set_run_day(
    session: AsyncSession, county: str, day: int, author: uuid.UUID | None
) -> None:
    if day == DEFAULT_RUN_DAY:
        await session.execute(delete(AlertSchedule).where(AlertSchedule.county_code == county))
        return
    await session.execute(
        insert(AlertSchedule)
        .values(county_code=county, run_day=day, updated_by=author)
        .on_conflict_do_update(
            index_elements=[AlertSchedule.county_code],
            set_={"run_day": day, "updated_by": author, "updated_at": func.now()},
        )
    )


async def _set_rule(
    session: AsyncSession,
    county: str,
    rule: AlertRule,
    enabled: bool,
    params: dict[str, int | bool],
    author: uuid.UUID | None,
) -> None:
    if enabled and not params:
        await session.execute(
            delete(AlertRuleSetting).where(
                AlertRuleSetting.county_code == county, AlertRuleSetting.rule == rule
            )
        )
        return
    await session.execute(
        insert(AlertRuleSetting)
        .values(county_code=county, rule=rule, enabled=enabled, params=params, updated_by=author)
        .on_conflict_do_update(
            index_elements=[AlertRuleSetting.county_code, AlertRuleSetting.rule],
            set_={
                "enabled": enabled,
                "params": params,
                "updated_by": author,
                "updated_at": func.now(),
            },
        )
    )
