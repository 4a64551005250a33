"""After a run, one notification per person with new alerts, in the run's transaction: a
coordinator hears of the episodes opened in their villages, a township or county manager of
the regional ones opened in their township or county. One message per person per run ("N new
alerts this month", with the count of each rule), never one per alert, all in one
statement; a rerun that opens nothing sends nothing."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.notifications.outbox import Message, notify_each
from app.policy.alerts import RULES, AlertRule, AlertSubject

EVENT = "alert.digest"

_RECIPIENTS = """
WITH fresh AS (
    SELECT o.rule, o.region_code, o.rule = ANY(CAST(:regional AS text[])) AS regional
    FROM alert_opened AS o
), counted AS (
    SELECT ur.user_id, f.rule, count(*) AS n
    FROM fresh AS f
    JOIN user_region AS ur ON ur.region_code = f.region_code
    JOIN user_account AS u ON u.id = ur.user_id AND u.role = 'coordinator' AND u.is_active
    WHERE NOT f.regional
    GROUP BY ur.user_id, f.rule
    UNION ALL
    SELECT ur.user_id, f.rule, count(*) AS n
    FROM fresh AS f
    JOIN user_region AS ur
      ON ur.region_code IN (substr(f.region_code, 1, 9) || '000',
                            substr(f.region_code, 1, 6) || '000000')
    JOIN user_account AS u ON u.id = ur.user_id AND u.role = 'manager' AND u.is_active
    WHERE f.regional
    GROUP BY ur.user_id, f.rule
)
SELECT user_id, rule, sum(n)::int AS n FROM counted GROUP BY user_id, rule ORDER BY user_id, rule
"""


def _message(period: str, counts: dict[str, int]) -> tuple[str, str]:
    total = sum(counts.values())
    order = list(RULES)
    parts = [
        f"{RULES[AlertRule(rule)].title} {n} 条"
        for rule, n in sorted(counts.items(), key=lambda item: order.index(AlertRule(item[0])))
    ]
    return f"{period} 新增预警 {total} 条", "，".join(parts)


async def send(session: AsyncSession, *, period: str) -> int:
    """Writes the digest of the episodes this run opened (`alert_opened`); answers how many
    people it was sent to."""
    regional = [spec.rule.value for spec in RULES.values() if spec.subject is AlertSubject.region]
    rows = (await session.execute(text(_RECIPIENTS), {"regional": regional})).all()
    per_person: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for user_id, rule, n in rows:
        per_person[user_id][rule] = n
    await notify_each(
        session,
        event=EVENT,
        messages=[
            Message(user_id, *_message(period, counts)) for user_id, counts in per_person.items()
        ],
        link=f"/alerts?period={period}&status=open",
        fields={"period": period},
    )
    return len(per_person)
