"""The episode merge: a period's hits (`alert_hit`, `alert_evaluated`, filled by
`app.alerts.engine.evaluate`) folded into the alerts, set-based, in the run's transaction.

For the run's period P over its region R:

1. **End.** A current episode in R whose (county, rule) was evaluated and that has no hit
   ends: `ended_period = P`; `open` and `acknowledged` become `auto_resolved`, `resolved`
   stays `resolved`. When an earlier run of the same P had found it (P is in its evidence),
   this run's data no longer does: P leaves its evidence and `last_period` steps back to the
   latest month left. An episode that P itself opened and nobody has touched yet (still
   `open`, never acknowledged) is withdrawn instead: deleted, as if the first run of P had
   never seen it.
2. **Revive.** A hit whose (rule, subject) has no current episode but one that an earlier run
   of P ended (`ended_period = P`) takes that episode back: P is being recomputed and the
   condition holds after all. Its status returns to what a person left it at (`resolved`
   stays; otherwise `acknowledged` when it had been acknowledged, else `open`).
3. **Continue.** A hit with a current episode sets `last_period = P` and `evidence[P]`, and
   writes only when one of them (or the subject's village) differs: a rerun of P on the same
   data writes nothing. A `resolved` episode keeps being continued while its condition
   holds; only once it ends can a new episode of the same (rule, subject) open.
4. **Open.** A hit with no current episode opens one (`open`, `opened_period = P`).

`months` (a generated column) is the number of months from `opened_period` to `last_period`,
both counted; a month no run computed between two that found the condition counts as held.

The ids and (rule, village) of the episodes opened are kept in `alert_opened` (a temporary
table, dropped at commit) for the digest.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.scope import code_range
from app.policy.alerts import RULES


@dataclass(frozen=True, slots=True)
class MergeCounts:
    opened: int
    continued: int  # hits whose episode was already current (written or not)
    ended: int  # ended or withdrawn


# A current episode, in the run's region, of an evaluated (county, rule) pair, with no hit.
_GONE = """
    a.ended_period IS NULL
    AND a.region_code BETWEEN :low AND :high
    AND EXISTS (
        SELECT 1 FROM alert_evaluated AS e
        WHERE e.county_code = a.county_code AND e.rule = a.rule
    )
    AND NOT EXISTS (SELECT 1 FROM alert_hit AS h WHERE h.rule = a.rule AND h.subject = a.subject)
"""

_WITHDRAW = f"""
DELETE FROM alert AS a
WHERE {_GONE}
  AND a.opened_period = CAST(:period AS varchar) AND a.status = 'open' AND a.acknowledged_at IS NULL
"""  # noqa: S608 (our own fragments; values are bound)

_END = f"""
UPDATE alert AS a SET
    ended_period = arg.p,
    status = CASE WHEN a.status IN ('open', 'acknowledged') THEN 'auto_resolved'
                  ELSE a.status END,
    evidence = CASE WHEN a.last_period = arg.p AND a.opened_period < arg.p
                    THEN a.evidence - arg.p ELSE a.evidence END,
    last_period = CASE WHEN a.last_period = arg.p AND a.opened_period < arg.p
                       THEN coalesce((SELECT max(k) FROM jsonb_object_keys(a.evidence) AS k
                                      WHERE k < arg.p), a.opened_period)
                       ELSE a.last_period END,
    version = a.version + 1,
    updated_at = now()
FROM (SELECT CAST(:period AS varchar) AS p) AS arg
WHERE {_GONE}
"""  # noqa: S608 (our own fragments; values are bound)

_REVIVE = """
UPDATE alert AS a SET
    ended_period = NULL,
    status = CASE WHEN a.status <> 'auto_resolved' THEN a.status
                  WHEN a.acknowledged_at IS NOT NULL THEN 'acknowledged'
                  ELSE 'open' END,
    version = a.version + 1,
    updated_at = now()
FROM (
    SELECT DISTINCT ON (x.rule, x.subject) x.id
    FROM alert AS x
    JOIN alert_hit AS h ON h.rule = x.rule AND h.subject = x.subject
    WHERE x.ended_period = CAST(:period AS varchar)
      AND NOT EXISTS (
          SELECT 1 FROM alert AS c
          WHERE c.rule = x.rule AND c.subject = x.subject AND c.ended_period IS NULL
      )
    ORDER BY x.rule, x.subject, x.opened_period DESC, x.id DESC
) AS back
WHERE a.id = back.id
"""

_CONTINUED = """
SELECT count(*) FROM alert_hit AS h
JOIN alert AS a ON a.rule = h.rule AND a.subject = h.subject AND a.ended_period IS NULL
"""

_CONTINUE = """
UPDATE alert AS a SET
    last_period = CAST(:period AS varchar),
    evidence = a.evidence || jsonb_build_object(CAST(:period AS varchar), h.evidence),
    region_code = h.region_code,
    county_code = h.county_code,
    version = a.version + 1,
    updated_at = now()
FROM alert_hit AS h
WHERE a.rule = h.rule AND a.subject = h.subject AND a.ended_period IS NULL
  AND (a.last_period, a.evidence -> CAST(:period AS varchar), a.region_code)
      IS DISTINCT FROM (CAST(:period AS varchar), h.evidence, h.region_code)
"""

_OPEN = """
WITH opened AS (
    INSERT INTO alert (id, rule, subject, kind, county_code, region_code, household_id,
                       member_id, status, opened_period, last_period, evidence)
    SELECT gen_random_uuid(), h.rule, h.subject, k.kind, h.county_code, h.region_code,
           h.household_id, h.member_id, 'open', CAST(:period AS varchar), CAST(:period AS varchar),
           jsonb_build_object(CAST(:period AS varchar), h.evidence)
    FROM alert_hit AS h
    JOIN unnest(CAST(:rules AS text[]), CAST(:kinds AS text[])) AS k (rule, kind)
      ON k.rule = h.rule
    WHERE NOT EXISTS (
        SELECT 1 FROM alert AS c
        WHERE c.rule = h.rule AND c.subject = h.subject AND c.ended_period IS NULL
    )
    RETURNING id, rule, region_code
)
INSERT INTO alert_opened (id, rule, region_code) SELECT id, rule, region_code FROM opened
"""

_OPENED_TABLE = """
CREATE TEMPORARY TABLE IF NOT EXISTS alert_opened (
    id uuid PRIMARY KEY, rule varchar(32) NOT NULL, region_code varchar(12) NOT NULL
) ON COMMIT DROP
"""


async def merge(session: AsyncSession, *, period: str, region_code: str) -> MergeCounts:
    """Fold the hits of `period` over `region_code` into the episodes (module docstring)."""
    low, high = code_range(region_code)
    where = {"period": period, "low": low, "high": high}
    # Temporary tables have no statistics until analysed (autovacuum never sees them): without
    # them the planner takes a province's hits for a handful of rows.
    await session.execute(text("ANALYZE alert_hit"))
    await session.execute(text("ANALYZE alert_evaluated"))
    withdrawn = await session.execute(text(_WITHDRAW), where)
    ended = await session.execute(text(_END), where)
    await session.execute(text(_REVIVE), {"period": period})
    continued = int(await session.scalar(text(_CONTINUED)) or 0)
    await session.execute(text(_CONTINUE), {"period": period})
    await session.execute(text(_OPENED_TABLE))
    opened = await session.execute(
        text(_OPEN),
        {
            "period": period,
            "rules": [spec.rule.value for spec in RULES.values()],
            "kinds": [spec.kind.value for spec in RULES.values()],
        },
    )
    return MergeCounts(
        opened=int(opened.rowcount or 0),  # type: ignore[attr-defined]
        continued=continued,
        ended=int(withdrawn.rowcount or 0) + int(ended.rowcount or 0),  # type: ignore[attr-defined]
    )
