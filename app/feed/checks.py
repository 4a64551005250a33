"""Running the data checks (`app.policy.data_checks`) over a region, and reading their findings.

`refresh_findings` runs after every import and pull, in the caller's transaction. Each rule is
one statement: its query (or, for a rule on personal data, the rows that failed its test after
decryption, as typed arrays) becomes the region's findings of that rule. Findings that no longer
hold are deleted, new ones inserted, and ones that still hold keep their `first_found_at` and
get a new `last_found_at` and details. Exempted households and members produce no finding.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.caller import Principal
from app.core.config import get_settings
from app.core.crypto import PiiCipher
from app.core.db import session_driver_connection
from app.core.pagination import PageRequest, keyset, keyset_key, next_cursor
from app.core.scope import Scope, code_range, is_region_code
from app.feed.checks_models import DataCheckFinding
from app.feed.checks_schemas import CheckRuleOut, FindingHousehold, FindingMember, FindingOut
from app.households.models import Household, Member
from app.households.views import ID_NUMBER_CIPHER, PHONE_CIPHER
from app.policy.data_checks import BY_CODE, CHECKS, CheckCode, DataCheck, Personal

# Rows of a personal-data rule decrypted per round trip: memory stays flat for any region.
DECRYPT_CHUNK = 5000
_CONTEXTS = {Personal.phone: PHONE_CIPHER, Personal.id_number: ID_NUMBER_CIPHER}
# Refreshes take turns: an import and a pull of overlapping regions would otherwise each delete
# what the other just found.
_LOCK_KEY = 0x64617461_63686B73  # "datachks"
_PREFIX = re.compile(r"[0-9]{1,12}")

# The findings of one rule in $1..$2 become `found`. Rule codes are our own constants.
_MERGE = """
WITH found AS (
    SELECT f.household_id, f.member_id, f.village_code, f.period, f.details
    FROM ({found}) AS f
    WHERE NOT EXISTS (
        SELECT 1 FROM data_check_exemption x
        WHERE x.rule = '{rule}' AND x.household_id = f.household_id
          AND (x.member_id IS NULL OR x.member_id = f.member_id))
),
gone AS (
    DELETE FROM data_check_finding d
    WHERE d.rule = '{rule}' AND d.village_code BETWEEN $1 AND $2
      AND NOT EXISTS (
          SELECT 1 FROM found f
          WHERE f.household_id = d.household_id AND f.member_id IS NOT DISTINCT FROM d.member_id)
    RETURNING 1
),
kept AS (
    INSERT INTO data_check_finding AS d
        (id, rule, household_id, member_id, village_code, period, details)
    SELECT gen_random_uuid(), '{rule}', household_id, member_id, village_code, period, details
    FROM found
    ON CONFLICT (rule, household_id, member_id) DO UPDATE
    SET village_code = excluded.village_code, period = excluded.period,
        details = excluded.details, last_found_at = now()
    RETURNING 1
)
SELECT count(*) FROM kept
"""
# A personal-data rule's failing rows, as typed arrays.
_FAILED = """
    SELECT household_id, member_id, village_code::varchar, period::varchar, details::jsonb
    FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[])
        AS f(household_id, member_id, village_code, period, details)
"""


def village_range(region_code: str | None) -> tuple[str, str]:
    """The lowest and highest village code under a region: a 12-digit division code, or a
    prefix of village codes (`4502`); everything for None."""
    if region_code is None:
        return "000000000000", "999999999999"
    if not _PREFIX.fullmatch(region_code):
        raise ValueError(f"not a region code or prefix: {region_code!r}")
    if is_region_code(region_code):
        return code_range(region_code)
    return region_code.ljust(12, "0"), region_code.ljust(12, "9")


def merge_statement(check: DataCheck) -> str:
    """The one statement that replaces a rule's findings in a region."""
    found = _FAILED if check.personal else check.query
    return _MERGE.format(found=found, rule=check.code.value)


async def refresh_findings(
    session: AsyncSession, region_code: str | None, *, cipher: PiiCipher | None = None
) -> dict[str, int]:
    """Runs every rule over the villages under `region_code` (None: everywhere) and replaces
    their findings; answers how many findings each rule has there now. Flushes, never commits."""
    cipher = cipher or PiiCipher.from_settings(get_settings())
    low, high = village_range(region_code)
    await session.flush()
    connection = await session_driver_connection(session)
    await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
    counts: dict[str, int] = {}
    for check in CHECKS:
        arguments: list[Any] = [low, high]
        if check.personal:
            arguments += await _failing(connection, cipher, check, low, high)
        counts[check.code.value] = await connection.fetchval(merge_statement(check), *arguments)
    return counts


async def _failing(
    connection: asyncpg.Connection, cipher: PiiCipher, check: DataCheck, low: str, high: str
) -> list[list[Any]]:
    """The candidates of a personal-data rule whose decrypted value fails its test, as the
    columns of `_FAILED`; read through a cursor, `DECRYPT_CHUNK` rows at a time."""
    assert check.personal is not None and check.test is not None
    context = _CONTEXTS[check.personal]
    columns: list[list[Any]] = [[], [], [], [], []]
    async for row in connection.cursor(check.query, low, high, prefetch=DECRYPT_CHUNK):
        details = check.test(cipher.decrypt(row["secret"], context=context), row["period"])
        if details is None:
            continue
        values = (row["household_id"], row["member_id"], row["village_code"], row["period"])
        for column, value in zip(columns, (*values, json.dumps(details)), strict=True):
            column.append(value)
    return columns


# --- Reading -------------------------------------------------------------------------------


def rules() -> list[CheckRuleOut]:
    return [
        CheckRuleOut(code=c.code, title=c.title, explanation=c.explanation, personal=c.personal)
        for c in CHECKS
    ]


@dataclass(frozen=True, slots=True)
class FindingFilters:
    rule: CheckCode | None = None
    region: str | None = None
    household_id: uuid.UUID | None = None


def _visible(principal: Principal) -> ColumnElement[bool]:
    # By the household's village now, not the one recorded when found: a household that moved
    # is its new village's.
    return principal.scope.region_filter(Household.village_code)


async def list_findings(
    session: AsyncSession, principal: Principal, filters: FindingFilters, page: PageRequest
) -> tuple[list[FindingOut], str | None]:
    """Findings in the caller's scope, household by household (village, household, then
    finding), a household's own before its members'."""
    statement = (
        select(
            DataCheckFinding,
            Household.household_no,
            Household.village_code.label("household_village"),
            Member.member_no,
            Member.name,
        )
        .join(Household, Household.id == DataCheckFinding.household_id)
        .outerjoin(Member, Member.id == DataCheckFinding.member_id)
        .where(_visible(principal), or_(Member.id.is_(None), Member.deleted_at.is_(None)))
    )
    if filters.rule:
        statement = statement.where(DataCheckFinding.rule == filters.rule)
    if filters.region:
        statement = statement.where(
            Scope.of_regions([filters.region]).region_filter(Household.village_code)
        )
    if filters.household_id:
        statement = statement.where(DataCheckFinding.household_id == filters.household_id)
    statement = keyset(
        statement,
        (Household.village_code, DataCheckFinding.household_id, DataCheckFinding.id),
        (str, uuid.UUID, uuid.UUID),
        page,
        descending=False,
    )
    rows = list((await session.execute(statement)).all())
    rows, cursor = next_cursor(
        rows,
        page.limit,
        lambda r: keyset_key(r.household_village, r[0].household_id, r[0].id),
    )
    return [_finding_out(row) for row in rows], cursor


def _finding_out(row: Any) -> FindingOut:
    finding: DataCheckFinding = row[0]
    check = BY_CODE[CheckCode(finding.rule)]
    return FindingOut(
        id=finding.id,
        rule=check.code,
        title=check.title,
        household=FindingHousehold(
            id=finding.household_id,
            household_no=row.household_no,
            village_code=row.household_village,
        ),
        member=FindingMember(id=finding.member_id, member_no=row.member_no, name=row.name)
        if finding.member_id
        else None,
        period=finding.period,
        details=finding.details,
        first_found_at=finding.first_found_at,
        last_found_at=finding.last_found_at,
    )
