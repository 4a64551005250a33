"""Monitoring income lines (监测收入线) by region and year: reading, setting, and which line
applies to a region.

A province or a county sets its line every year, as a fixed amount (yuan per head per year) or
as a multiple of the local rural 低保 standard (e.g. twice the 低保). The line that applies to a
region for a year is the nearest one up its tree: the village's own, else its township's,
county's, city's, province's (`effective_line`, and `nearest_line_sql` for set-based readers).
A line of another year never applies.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.settings_errors import MonitoringLineNotFound
from app.alerts.settings_models import MonitoringLine
from app.alerts.settings_schemas import (
    EffectiveLineOut,
    MonitoringLineIn,
    MonitoringLineOut,
    MonitoringLinePage,
)
from app.alerts.settings_scope import (
    ancestors_and_self,
    entity_id,
    region_names,
    region_to_manage,
    region_to_read,
    yearly_rows,
)
from app.audit import service as audit
from app.core.caller import Principal
from app.core.pagination import PageRequest

CENT = Decimal("0.01")

# The amount of a `monitoring_line` row aliased `l`: its own, or the formula worked out (to the
# fen, half up, as `line_amount` does).
LINE_AMOUNT_SQL = "coalesce(l.amount, round(l.dibao * l.dibao_multiple, 2))"


def line_amount(line: MonitoringLine) -> Decimal:
    if line.amount is not None:
        return line.amount
    assert line.dibao is not None and line.dibao_multiple is not None
    return (line.dibao * line.dibao_multiple).quantize(CENT, rounding=ROUND_HALF_UP)


def nearest_line_sql(code: str, year: str) -> str:
    """A scalar subquery: the amount of the line that applies to the region whose 12-digit code
    is the SQL expression `code` (a village's, typically) in the year `year` (an SQL
    expression); NULL when no region up the tree has one. Deeper codes sort later, so the
    nearest is the greatest code among the candidates."""
    candidates = ", ".join(
        [code] + [f"rpad(left({code}, {digits}), 12, '0')" for digits in (9, 6, 4, 2)]
    )
    return (
        f"(SELECT {LINE_AMOUNT_SQL} FROM monitoring_line l"  # noqa: S608 (our own fragments)
        f" WHERE l.year = {year} AND l.region_code IN ({candidates})"
        " ORDER BY l.region_code DESC LIMIT 1)"
    )


async def effective_line(
    session: AsyncSession, region_code: str, year: int
) -> MonitoringLine | None:
    """The line that applies to `region_code` in `year`: the nearest up the tree, or None."""
    return await session.scalar(
        select(MonitoringLine)
        .where(
            MonitoringLine.year == year,
            MonitoringLine.region_code.in_(ancestors_and_self(region_code)),
        )
        .order_by(MonitoringLine.region_code.desc())
        .limit(1)
    )


async def _out(session: AsyncSession, lines: list[MonitoringLine]) -> list[MonitoringLineOut]:
    names = await region_names(session, {line.region_code for line in lines})
    return [
        MonitoringLineOut(
            region_code=line.region_code,
            region_name=names[line.region_code][0],
            level=names[line.region_code][1],
            year=line.year,
            amount=line_amount(line),
            dibao=line.dibao,
            dibao_multiple=line.dibao_multiple,
            note=line.note,
            updated_by=line.updated_by,
            updated_at=line.updated_at,
        )
        for line in lines
    ]


async def list_lines(
    session: AsyncSession,
    principal: Principal,
    region_code: str | None,
    year: int | None,
    page: PageRequest,
) -> MonitoringLinePage:
    """The lines the caller reads: their regions', those above and those under them; with
    `region_code`, those on its path (its own, above it, under it); with `year`, that year's."""
    rows, cursor = await yearly_rows(session, principal, MonitoringLine, region_code, year, page)
    return MonitoringLinePage(items=await _out(session, rows), next_cursor=cursor)


async def get_effective(
    session: AsyncSession, principal: Principal, region_code: str, year: int
) -> EffectiveLineOut:
    await region_to_read(session, principal, region_code)
    line = await effective_line(session, region_code, year)
    if line is None:
        return EffectiveLineOut(region_code=region_code, year=year, amount=None, source=None)
    [source] = await _out(session, [line])
    return EffectiveLineOut(region_code=region_code, year=year, amount=source.amount, source=source)


def _form(body: MonitoringLineIn) -> dict[str, Any]:
    return {
        "amount": body.amount,
        "dibao": body.dibao,
        "dibao_multiple": body.dibao_multiple,
        "note": body.note,
    }


FIELDS = ("amount", "dibao", "dibao_multiple", "note")


async def put_line(
    session: AsyncSession,
    principal: Principal,
    region_code: str,
    year: int,
    body: MonitoringLineIn,
) -> MonitoringLineOut:
    """Sets the region's line for the year, audited; the same line again writes nothing."""
    await region_to_manage(session, principal, region_code)
    values = _form(body)
    current = await session.get(MonitoringLine, (region_code, year), with_for_update=True)
    old = {f: getattr(current, f) for f in FIELDS} if current is not None else None
    if old != values:
        author = None if principal.is_system else principal.id
        await session.execute(
            insert(MonitoringLine)
            .values(region_code=region_code, year=year, updated_by=author, **values)
            .on_conflict_do_update(
                index_elements=[MonitoringLine.region_code, MonitoringLine.year],
                set_={**values, "updated_by": author, "updated_at": func.now()},
            )
        )
        audit.record(
            session,
            principal.actor,
            action="create" if current is None else "update",
            entity=MonitoringLine.__tablename__,
            entity_id=entity_id(MonitoringLine.__tablename__, region_code, year),
            region_code=region_code,
            changes={
                f: (old[f] if old else None, values[f])
                for f in FIELDS
                if (old[f] if old else None) != values[f]
            },
        )
        await session.flush()
    line = await session.get(MonitoringLine, (region_code, year), populate_existing=True)
    assert line is not None
    [out] = await _out(session, [line])
    return out


async def delete_line(
    session: AsyncSession, principal: Principal, region_code: str, year: int
) -> None:
    """Removes the region's line for the year, audited: the line above it applies again."""
    await region_to_manage(session, principal, region_code)
    current = await session.get(MonitoringLine, (region_code, year), with_for_update=True)
    if current is None:
        raise MonitoringLineNotFound()
    old = {f: getattr(current, f) for f in FIELDS}
    await session.execute(
        delete(MonitoringLine).where(
            MonitoringLine.region_code == region_code, MonitoringLine.year == year
        )
    )
    audit.record(
        session,
        principal.actor,
        action="delete",
        entity=MonitoringLine.__tablename__,
        entity_id=entity_id(MonitoringLine.__tablename__, region_code, year),
        region_code=region_code,
        changes={f: (v, None) for f, v in old.items() if v is not None},
    )
    await session.flush()
