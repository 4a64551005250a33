"""Applying a batch of feed records to the registry: households, members and their months,
in one transaction the caller holds (with a pull's cursor, or an import's progress).

The records are encrypted on the way in and COPYed into a staging table (`feed_stage`: no
plaintext ID number or phone anywhere, staging included), then a handful of set-based
statements (`app.feed.apply_sql`) refuse what cannot be applied, upsert households and
members where they differ, and hand the months to the one member writer
(`app.households.writer`) through its staging table, after setting them against ours
(reconciliation). A batch applied twice writes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import asyncpg

from app.core.caller import Actor
from app.core.crypto import ID_NUMBER_INDEX, PHONE_INDEX, PiiCipher, mask_id_number
from app.core.scope import Scope
from app.feed import apply_sql
from app.feed.records import FeedRecord, RowError
from app.households import writer
from app.households.views import ID_NUMBER_CIPHER, PHONE_CIPHER
from app.policy.reconciliation import Side, working_copy_side_sql

# Why a record was not applied, in words a county clerk understands.
PROBLEMS = {
    "unknown_village": ("行政区划代码", "行政区划代码不是本系统已知的村级区划"),
    "out_of_scope": ("行政区划代码", "该户不在您的管辖范围内"),
    "id_number_invalid": ("证件号码", "证件号码校验位不正确，已转为待核实事项"),
    "id_number_shared": ("证件号码", "证件号码与另一成员相同，已转为待核实事项"),
}


# The county's precedence rule, over the records' months set against ours.
_TAKES_THEIRS = (
    f"{working_copy_side_sql('d.precedence', 'd.our_observed_at', 'd.observed_at')}"
    f" = '{Side.theirs.value}'"
)


@dataclass(slots=True)
class Applied:
    """What a batch did, by record (person)."""

    rows_read: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)

    def add(self, other: Applied) -> None:
        for name in ("rows_read", "new", "changed", "unchanged", "deleted", "rejected"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class RegistryStatistics:
    """Keeps the planner's picture of the registry current while a pull or an import adds to
    it. The statements above find registry rows by key; statistics taken when the registry
    was a tenth of its size make scanning a table look cheaper than its index, and a scan per
    staged row is quadratic. After each batch (outside its transaction) the tables are
    analysed again once they have grown by a fifth since the planner last looked."""

    _GROWTH = 0.2
    _AT_LEAST = 2000

    def __init__(self) -> None:
        self._added = 0
        self._known: float | None = None

    async def after(self, connection: asyncpg.Connection, applied: Applied) -> None:
        self._added += applied.new
        if self._known is None:
            self._known = float(
                await connection.fetchval(
                    "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'member'::regclass"
                )
            )
        if self._added >= max(self._AT_LEAST, self._known * self._GROWTH):
            await connection.execute("ANALYZE household, member, member_employment")
            self._known += self._added
            self._added = 0


def _staged(records: Iterable[FeedRecord], cipher: PiiCipher) -> list[tuple[object, ...]]:
    rows = []
    for r in records:
        e = r.employment
        rows.append(
            (
                r.line, r.household_no, r.village_code, r.household_category, r.monitor_type,
                list(r.risk_types), r.risk_eliminated, r.relocated, r.income_per_capita,
                r.member_no, r.name,
                cipher.encrypt(r.id_number, context=ID_NUMBER_CIPHER),
                cipher.blind_index(r.id_number, context=ID_NUMBER_INDEX),
                r.id_number_valid, mask_id_number(r.id_number),
                cipher.encrypt(r.phone, context=PHONE_CIPHER) if r.phone else None,
                cipher.blind_index(r.phone, context=PHONE_INDEX) if r.phone else None,
                r.relation, r.labour_type,
                e.period if e else None, e.status if e else None, e.region if e else None,
                e.channel if e else None, e.employer if e else None,
                e.months if e else None, e.income if e else None,
                r.updated_at, r.deleted,
            )
        )  # fmt: skip
    return rows


async def apply_records(
    connection: asyncpg.Connection,
    records: Sequence[FeedRecord],
    *,
    cipher: PiiCipher,
    actor: Actor,
    scope: Scope,
) -> Applied:
    """Applies `records` in the caller's transaction on `connection`; records outside `scope`
    (an uploader's region) are refused. Answers the counts and the records refused."""
    applied = Applied()
    if not records:
        return applied
    await connection.execute(apply_sql.CREATE_STAGE)
    await connection.copy_records_to_table(
        "feed_stage", columns=apply_sql.STAGE_COLUMNS, records=_staged(records, cipher)
    )
    # The planner knows the staging table's size and spread only once it has looked.
    await connection.execute("ANALYZE feed_stage")

    lows, highs = scope.code_ranges()
    problems = await connection.fetch(apply_sql.MARK_PROBLEMS, lows, highs)
    for row in problems:
        column, reason = PROBLEMS[row["problem"]]
        applied.errors.append(RowError(row["line"], column, None, reason))
    if any(row["problem"].startswith("id_number") for row in problems):
        await connection.execute(apply_sql.RECORD_ID_CONFLICTS)

    who = (actor.user_id, actor.role, actor.request_id)
    households = await connection.fetch(apply_sql.UPSERT_HOUSEHOLDS, *who)
    members = await connection.fetch(apply_sql.UPSERT_MEMBERS, *who)

    await writer.create_staging_table(connection, writer.EMPLOYMENT, "feed_employment")
    await connection.execute(
        apply_sql.STAGE_EMPLOYMENT.replace("<takes_theirs>", _TAKES_THEIRS),
        *who,
        actor.client_address,
    )
    await writer.write_staged(connection, writer.EMPLOYMENT, "feed_employment")
    months_written = {r["member_no"] for r in await connection.fetch(apply_sql.EMPLOYMENT_WRITTEN)}
    in_households = {
        r["member_no"]
        for r in await connection.fetch(
            apply_sql.MEMBERS_OF_HOUSEHOLDS,
            # A household created here changes nobody already in the registry.
            [r["entity_id"] for r in households if r["action"] == "update"],
        )
    }
    await connection.execute("DROP TABLE feed_stage, feed_employment")

    new = {r["member_no"] for r in members if r["is_new"]}
    deleted = {r["member_no"] for r in members if r["is_deleted"]}
    updated = {r["member_no"] for r in members if not r["is_new"] and not r["is_deleted"]}
    refused = {row["member_no"] for row in problems}
    accepted = {r.member_no for r in records} - refused
    changed = (updated | months_written | in_households) & accepted - new - deleted

    applied.rows_read = len(records)
    applied.new, applied.deleted, applied.changed = len(new), len(deleted), len(changed)
    applied.unchanged = len(accepted) - applied.new - applied.deleted - applied.changed
    applied.rejected = len({row["line"] for row in problems})
    return applied
