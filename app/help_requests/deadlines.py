"""The deadline job: flags requests in the last quarter of their time and escalates those past
it, each step once (`app.policy.help_requests` says when).

Set-based: one statement closes the training deadlines met by an enrolment, one records every
step now due as a `help_request_escalation` row. A row is inserted at most once per request,
deadline and step (`ON CONFLICT DO NOTHING` on its key), so only the rows this run inserted
are audited and notified: a second run, or a run on another worker at the same moment (it
waits on the first's uncommitted rows, then finds them), takes no step again. Rows are
inserted in key order, so two runs never wait on each other in a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.caller import Principal, Role
from app.help_requests import notices
from app.help_requests.models import EscalationStep, HelpRequest
from app.households.models import Member

# A 技能培训 request's deadline is met once the member is enrolled (not waitlisted) on a
# training after the request was accepted. Rechecked on the updated row (`r.deadline`), so a
# concurrent run that closed it first makes this one skip it.
_CLOSE_MET_TRAINING = text("""
UPDATE help_request AS r
SET deadline = NULL, due_soon_at = NULL, due_at = NULL, county_at = NULL,
    training_enrolled_at = e.enrolled_at, updated_at = now()
FROM (
    SELECT h.id, min(t.created_at) AS enrolled_at
    FROM help_request AS h
    JOIN training_enrollment AS t
        ON t.member_id = h.member_id AND t.status = 'enrolled' AND t.created_at >= h.accepted_at
    WHERE h.deadline = 'training'
    GROUP BY h.id
) AS e
WHERE r.id = e.id AND r.deadline = 'training'
RETURNING r.id
""")

# Each running deadline's marks reached by `:now`. `due_soon` only while not yet due: a
# request already late is escalated, not flagged. Who is told: the handling region's staff
# (`due_soon`), the village's township (`township`, 9 digits of the code) and county
# (`county`, 6 digits): `app.core.scope.LEVEL_DIGITS`.
_ESCALATE = text("""
INSERT INTO help_request_escalation (request_id, deadline, step, region_code, due_at)
SELECT r.id, r.deadline, s.step, s.region_code, r.due_at
FROM help_request AS r
CROSS JOIN LATERAL (VALUES
    ('due_soon', r.due_soon_at, r.routed_to),
    ('township', r.due_at, rpad(left(r.village_code, 9), 12, '0')),
    ('county', r.county_at, rpad(left(r.village_code, 6), 12, '0'))
) AS s(step, reached_at, region_code)
WHERE r.deadline IS NOT NULL AND r.due_soon_at <= :now
    AND s.reached_at <= :now AND (s.step <> 'due_soon' OR r.due_at > :now)
ORDER BY r.id, r.deadline, s.step
ON CONFLICT DO NOTHING
RETURNING request_id, deadline, step, region_code
""")

_TITLES = {
    EscalationStep.due_soon: ("help_request.due_soon", "求助即将超时"),
    EscalationStep.township: ("help_request.escalated", "求助已超时，升级至乡镇"),
    EscalationStep.county: ("help_request.escalated", "求助严重超时，升级至县"),
}
_DEADLINE_NAMES = {"response": "首次响应", "referral": "乡镇受理", "training": "15天内安排培训"}


@dataclass(frozen=True, slots=True)
class DeadlineRun:
    closed: int  # training deadlines met by an enrolment
    steps: int  # escalation steps taken


def _recipient_role(step: EscalationStep, region_code: str) -> Role:
    if step is EscalationStep.due_soon:
        return notices.handling_role(region_code)
    return Role.manager


async def run_deadlines(session: AsyncSession, principal: Principal, now: datetime) -> DeadlineRun:
    closed = list((await session.scalars(_CLOSE_MET_TRAINING)).all())
    taken = (await session.execute(_ESCALATE, {"now": now})).all()
    if not taken:
        return DeadlineRun(closed=len(closed), steps=0)
    steps = [
        (request_id, deadline, EscalationStep(step), region)
        for request_id, deadline, step, region in taken
    ]
    requests = {
        request.id: (request, name)
        for request, name in (
            await session.execute(
                select(HelpRequest, Member.name)
                .join(Member, Member.id == HelpRequest.member_id)
                .where(HelpRequest.id.in_({s[0] for s in steps}))
            )
        ).all()
    }
    staff = await notices.staff_of(
        session, {(region, _recipient_role(step, region)) for _, _, step, region in steps}
    )
    for request_id, deadline, step, region in steps:
        request, name = requests[request_id]
        audit.record(
            session,
            principal.actor,
            action="escalate",
            entity="help_request",
            entity_id=request_id,
            region_code=request.village_code,
            changes={"escalation": (None, f"{deadline}:{step.value}")},
        )
        event, title = _TITLES[step]
        await notices.tell(
            session,
            request,
            staff[(region, _recipient_role(step, region))],
            event=event,
            title=title,
            body=f"{name}：{request.category}（{_DEADLINE_NAMES.get(deadline, deadline)}）",
        )
    await session.flush()
    return DeadlineRun(closed=len(closed), steps=len(steps))
