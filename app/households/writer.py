"""The one writer of a member's monthly employment (`member_employment`) and intent
(`member_intent`): a PUT, a hire, a visit batch (and bulk imports) hand it rows, and it writes
a batch of them in one statement per row kind. A single write is a batch of one.

Its input is a relation of the kind's composite type (`employment_write`, `intent_write`, made
by the migration of 2026-11-23): the rows as one typed parameter (`unnest($1::…[])`), or a
staging table of that type filled by COPY (`create_staging_table`, `write_staged`). The
statement then, for the whole batch:

- keeps the later of two rows for one key, as if they were written one after the other;
- locks the rows it replaces in key order, so that two batches never deadlock, reading them
  as they stand (FOR UPDATE reads the newest committed version of a row);
- merges: an `observed_at` left empty is the time of the write (a visit gives its
  `visited_at`); a hire (`keeps_months_and_income`) keeps the months and income already
  recorded for the month; an intent's reason is trimmed of whitespace as Python's `str.strip`
  knows it (full-width spaces and tabs too) and stored as none when nothing is left;
- leaves a row that stands as given already (every audited field equal, no newer
  `observed_at` given) unwritten and unaudited: a feed page read twice or a file imported
  again writes nothing;
- upserts, and writes one audit row per row written, in the village the member lives in, of
  the shape `app.audit.service.record` gives: a new row lists every field that has a value (a
  month names its period), a replaced row the old and new value of each field that changed
  (money as a string with two decimals; `observed_at` is not audited).

Two first writes of one key at once: the second statement's snapshot may not hold the first's
row, so it cannot know what it replaces. Its upsert waits for the first to commit, then locks
that row without writing it, and the statement answers the row as not written. The writer
writes those rows again at once: the next statement sees them, so the second write is an
update whose old values are the first's. Both succeed, in any transaction, and nothing is
raised or retried from the caller. A statement that embeds the writer's chains
(`RowKind.chain`: a visit batch, `app.visits.write`) gives up instead as a serialization
failure when rows are left pending, and is run again whole.

The rows are written on the driver connection of the caller's transaction
(`app.core.db.session_driver_connection` for a session).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from operator import attrgetter

import asyncpg

from app.core.caller import Actor
from app.households import writer_sql
from app.households.schemas import EmploymentIn, IntentIn
from app.policy.values import ObservationSource

# Runs of a statement for one batch: the second writes the rows the first met inserted by
# another transaction, which the first has locked, so a third finds none.
_RUNS = 3


@dataclass(frozen=True, slots=True)
class RowKind:
    """One kind of row the writer writes: its input type and its statement."""

    type_name: str
    fields: tuple[str, ...]  # the input type's, in order
    body: str  # the statement's chain after its input, names prefixed `<p>` (`writer_sql`)

    def record(self, row: EmploymentWrite | IntentWrite) -> tuple[object, ...]:
        """`row` as a value of this kind's input type: the statement's parameter takes a list
        of them, a staging table's COPY takes them as they are."""
        return _values(self.fields)(row)  # type: ignore[no-any-return]

    def chain(self, source: str, prefix: str = "") -> str:
        """The statement's common table expressions, reading their rows from `source` (a
        query answering this kind's type and the rows' order, `ordinality`), every name
        prefixed with `prefix`, the last `<prefix>pending`: for a statement that writes this
        kind of row among other things (a visit batch)."""
        return f"{prefix}sent AS ({source}),{self.body.replace('<p>', prefix)}"

    def statement(self, source: str) -> str:
        """The statement reading its rows from `source`, answering the rows not written."""
        return f"WITH {self.chain(source)}\nSELECT * FROM pending"

    @property
    def from_parameter(self) -> str:
        """The statement reading its rows from $1, an array of this kind's type."""
        return self.statement(unnested(1, self.type_name))


def unnested(parameter: int, type_name: str) -> str:
    """The rows of parameter `$parameter`, an array of `type_name`, with their order."""
    return f"SELECT * FROM unnest(${parameter}::{type_name}[]) WITH ORDINALITY"  # noqa: S608


# Who wrote a row is part of the row: one visit batch holds several callers' rows. Each of
# these fields is read from the row's actor.
_ACTOR_PATHS = {
    "actor_id": "actor.user_id",
    "actor_role": "actor.role",
    "request_id": "actor.request_id",
    "client_address": "actor.client_address",
}
_ACTOR_FIELDS = tuple(_ACTOR_PATHS)


@cache
def _values(fields: tuple[str, ...]) -> attrgetter[tuple[object, ...]]:
    # One C-level getter per kind: a visit batch turns dozens of rows into values per request.
    return attrgetter(*(_ACTOR_PATHS.get(name, name) for name in fields))


EMPLOYMENT = RowKind(
    "employment_write",
    (
        "member_id", "period", "status", "work_region", "channel", "employer", "months",
        "income", "keeps_months_and_income", "source", "observed_at", *_ACTOR_FIELDS,
    ),
    writer_sql.EMPLOYMENT,
)  # fmt: skip
INTENT = RowKind(
    "intent_write",
    (
        "member_id", "intent", "reason", "training_needs", "wanted_job_types", "source",
        "observed_at", *_ACTOR_FIELDS,
    ),
    writer_sql.INTENT,
)  # fmt: skip


def _aware(observed_at: datetime | None) -> None:
    # The database would read a naive time in its own TimeZone: never guess.
    if observed_at is not None and observed_at.utcoffset() is None:
        raise ValueError("observed_at needs a UTC offset")


@dataclass(frozen=True, slots=True)
class EmploymentWrite:
    """A member's employment in a month, to write."""

    actor: Actor
    member_id: uuid.UUID
    period: str
    status: str
    work_region: str | None
    channel: str | None
    employer: str | None
    months: int
    income: Decimal | None
    source: str
    observed_at: datetime | None = None  # None: the time of the write
    keeps_months_and_income: bool = False  # a hire: the month's recorded ones stay

    def __post_init__(self) -> None:
        _aware(self.observed_at)

    @classmethod
    def of(
        cls,
        actor: Actor,
        member_id: uuid.UUID,
        period: str,
        body: EmploymentIn,
        source: ObservationSource,
        observed_at: datetime | None = None,
    ) -> EmploymentWrite:
        """The month as typed or found; `observed_at` stands in when the body has none (a
        visit: when it was made)."""
        return cls(
            actor=actor,
            member_id=member_id,
            period=period,
            # The policy's values are `StrEnum`s: strings already, written as they are.
            status=body.status,
            work_region=body.region,
            channel=body.channel,
            employer=body.employer,
            months=body.months,
            income=body.income,
            source=source,
            observed_at=body.observed_at or observed_at,
        )


@dataclass(frozen=True, slots=True)
class IntentWrite:
    """A member's intent, to write."""

    actor: Actor
    member_id: uuid.UUID
    intent: str
    reason: str | None
    training_needs: tuple[str, ...]
    wanted_job_types: tuple[str, ...]
    source: str
    observed_at: datetime | None = None  # None: the time of the write

    def __post_init__(self) -> None:
        _aware(self.observed_at)

    @classmethod
    def of(
        cls,
        actor: Actor,
        member_id: uuid.UUID,
        body: IntentIn,
        source: ObservationSource,
        observed_at: datetime | None = None,
    ) -> IntentWrite:
        return cls(
            actor=actor,
            member_id=member_id,
            intent=body.intent,
            reason=body.reason,
            training_needs=tuple(body.training_needs),
            wanted_job_types=tuple(body.wanted_job_types),
            source=source,
            observed_at=observed_at,
        )


async def write_employment(connection: asyncpg.Connection, rows: Sequence[EmploymentWrite]) -> None:
    if rows:
        records = [EMPLOYMENT.record(row) for row in rows]
        await _write(connection, EMPLOYMENT, EMPLOYMENT.from_parameter, records)


async def write_intents(connection: asyncpg.Connection, rows: Sequence[IntentWrite]) -> None:
    if rows:
        records = [INTENT.record(row) for row in rows]
        await _write(connection, INTENT, INTENT.from_parameter, records)


async def create_staging_table(connection: asyncpg.Connection, kind: RowKind, table: str) -> None:
    """A temporary table of `kind`'s input type, dropped at commit: fill it by COPY (values
    in the order of `kind.fields`, as `record` gives them), then hand it to `write_staged`."""
    await connection.execute(
        f"CREATE TEMP TABLE {_identifier(table)} OF {kind.type_name} ON COMMIT DROP"
    )


async def write_staged(connection: asyncpg.Connection, kind: RowKind, table: str) -> None:
    """Writes the rows of a staging table, as if they had been given in its order."""
    # The table's name is quoted: it cannot be read as SQL.
    source = f"SELECT *, row_number() OVER () AS ordinality FROM {_identifier(table)}"  # noqa: S608
    await _write(connection, kind, kind.statement(source))


async def _write(
    connection: asyncpg.Connection, kind: RowKind, statement: str, *arguments: object
) -> None:
    """Runs one of `kind`'s statements, then the statement again on the rows it answered
    (met inserted by another transaction) until none is left."""
    pending = await connection.fetch(statement, *arguments)
    for _ in range(_RUNS - 1):
        if not pending:
            return
        pending = await connection.fetch(kind.from_parameter, [tuple(row) for row in pending])
    if pending:
        raise RuntimeError(f"{len(pending)} rows of {kind.type_name} were never written")


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
