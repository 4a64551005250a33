"""Delivering the outbox over WeChat, in batches, never sending one message twice.

A batch goes through three steps, each one statement on the driver (autocommit, so each is
its own committed transaction):

1. **claim**: up to `batch_size` due rows, `FOR UPDATE SKIP LOCKED` (workers share the work
   without waiting on each other). A row that cannot be sent (no openid, no template for its
   event, no subscription left) becomes `inbox_only` there and then; the others spend one
   subscription each and become `sending` with their attempt time. This is committed BEFORE
   any call to WeChat: a worker that dies from here on leaves `sending` rows behind.
2. **send**: the calls, at most `concurrency` under way at once in the worker process.
3. **record**: the outcomes. Sent; tried again later (certainly not delivered: the
   subscription is given back, the row is due again after a backoff); `inbox_only` (43101: the
   subscription count is set to none); failed (given back); `unknown`.

The record of one batch runs while the next is claimed and sent. A row left `sending` longer
than `notification_sending_stale_seconds` lost its outcome (its worker died between steps 1 and
3): `sweep` marks it `unknown`, and it is never resent: WeChat may have delivered it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from app.core.config import Settings
from app.core.db import Database
from app.notifications.models import WeChatState
from app.notifications.templates import Templates
from app.notifications.wechat_channel import Outcome, Result, WeChatChannel

CLAIM = """
WITH due AS (
    SELECT n.id, n.recipient_id, n.event, n.created_at
    FROM notification AS n
    WHERE n.wechat_state = 'pending' AND n.wechat_due_at <= now()
    ORDER BY n.wechat_due_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), routed AS (
    SELECT d.id, d.recipient_id, u.wechat_openid AS openid, t.template_id,
           row_number() OVER (
               PARTITION BY d.recipient_id, t.template_id ORDER BY d.created_at, d.id
           ) AS nth
    FROM due AS d
    JOIN user_account AS u ON u.id = d.recipient_id
    LEFT JOIN unnest($2::text[], $3::text[]) AS t(event, template_id) ON t.event = d.event
), quota AS (
    -- Locked: two workers claiming one user's messages spend the count one after the other.
    SELECT s.user_id, s.template_id, s.remaining
    FROM notification_subscription AS s
    WHERE (s.user_id, s.template_id) IN (
        SELECT recipient_id, template_id FROM routed
        WHERE openid IS NOT NULL AND template_id IS NOT NULL
    )
    FOR UPDATE OF s
), decided AS (
    SELECT r.id, r.recipient_id, r.template_id, r.openid,
           CASE WHEN r.openid IS NULL THEN 'no_openid'
                WHEN r.template_id IS NULL THEN 'no_template'
                WHEN r.nth > coalesce(q.remaining, 0) THEN 'no_quota'
           END AS refusal
    FROM routed AS r
    LEFT JOIN quota AS q ON q.user_id = r.recipient_id AND q.template_id = r.template_id
), spent AS (
    UPDATE notification_subscription AS s
    SET remaining = s.remaining - c.used, updated_at = now()
    FROM (
        SELECT recipient_id, template_id, count(*) AS used
        FROM decided WHERE refusal IS NULL GROUP BY recipient_id, template_id
    ) AS c
    WHERE s.user_id = c.recipient_id AND s.template_id = c.template_id
)
UPDATE notification AS n
SET wechat_state = CASE WHEN d.refusal IS NULL THEN 'sending' ELSE 'inbox_only' END,
    wechat_error = d.refusal,
    wechat_attempts = n.wechat_attempts + CASE WHEN d.refusal IS NULL THEN 1 ELSE 0 END,
    wechat_attempt_at = CASE WHEN d.refusal IS NULL THEN clock_timestamp()
                             ELSE n.wechat_attempt_at END
FROM decided AS d
WHERE n.id = d.id
RETURNING n.id, n.recipient_id, n.event, n.title, n.body, n.link, n.fields, n.created_at,
          n.wechat_attempts AS attempts, d.openid, d.template_id, d.refusal
"""

RECORD = """
WITH outcome AS (
    SELECT * FROM unnest(
        $1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::int[], $7::bool[]
    ) AS o(id, state, error, due_at, template_id, refund, exhausted)
), updated AS (
    UPDATE notification AS n
    SET wechat_state = o.state,
        wechat_error = o.error,
        wechat_due_at = coalesce(o.due_at, n.wechat_due_at),
        wechat_sent_at = CASE WHEN o.state = 'sent' THEN clock_timestamp()
                              ELSE n.wechat_sent_at END
    FROM outcome AS o
    WHERE n.id = o.id
      -- A late answer still tells the truth about an attempt the sweep gave up on.
      AND (n.wechat_state = 'sending' OR (n.wechat_state = 'unknown' AND o.state = 'sent'))
    RETURNING n.recipient_id, o.template_id, o.refund, o.exhausted
), quota AS (
    SELECT recipient_id, template_id, sum(refund) AS refund, bool_or(exhausted) AS exhausted
    FROM updated GROUP BY recipient_id, template_id
)
UPDATE notification_subscription AS s
SET remaining = CASE WHEN q.exhausted THEN 0 ELSE s.remaining + q.refund END,
    updated_at = now()
FROM quota AS q
WHERE s.user_id = q.recipient_id AND s.template_id = q.template_id
  AND (q.refund > 0 OR q.exhausted)
"""

SWEEP = """
UPDATE notification
SET wechat_state = 'unknown', wechat_error = 'outcome lost'
WHERE wechat_state = 'sending' AND wechat_attempt_at < now() - make_interval(secs => $1)
"""

NEXT_DUE = "SELECT min(wechat_due_at) FROM notification WHERE wechat_state = 'pending'"


@dataclass(frozen=True, slots=True)
class Claimed:
    id: Any
    template_id: str
    attempts: int
    message: dict[str, Any]


@dataclass(slots=True)
class Report:
    claimed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    more: bool = False  # stopped for time with messages perhaps still due
    token_unavailable: bool = False  # stopped because WeChat gave no access token

    def add(self, state: str, n: int = 1) -> None:
        self.counts[state] = self.counts.get(state, 0) + n


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1`: doubling, with jitter so retries spread out."""
    base = settings.notification_backoff_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=base * random.uniform(0.5, 1.0))  # noqa: S311 - not a secret


class Deliverer:
    """One worker process's delivery: its semaphore bounds the calls under way at once."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        channel: WeChatChannel,
        templates: Templates,
    ) -> None:
        self._settings = settings
        self._db = database
        self._channel = channel
        self._templates = templates
        self._semaphore = asyncio.Semaphore(settings.notification_concurrency)
        events = list(templates.by_event)
        self._events = events
        self._template_ids = [templates.by_event[e].template_id for e in events]

    async def sweep(self) -> int:
        """Attempts left `sending` past the stale time are `unknown`; answers how many."""
        async with self._db.driver_connection() as connection:
            status = await connection.execute(
                SWEEP, float(self._settings.notification_sending_stale_seconds)
            )
        return int(status.split()[-1])

    async def next_due(self) -> datetime | None:
        async with self._db.driver_connection() as connection:
            value: datetime | None = await connection.fetchval(NEXT_DUE)
        return value

    async def drain(self, *, seconds: float | None = None) -> Report:
        """Claims, sends and records batches until none is due, or until `seconds` have passed
        (`Report.more`: some may be due still). A job stops between batches, never inside one,
        so it never outlives the worker's job timeout with an attempt under way."""
        report = Report()
        recording: asyncio.Task[None] | None = None
        stop_at = None if seconds is None else time.monotonic() + seconds
        try:
            while True:
                # The token first: a batch is claimed only when it can be sent, so a WeChat
                # that refuses tokens leaves the rows pending, never claimed and stranded.
                if not await self._channel.ready():
                    report.more = report.token_unavailable = True
                    break
                async with self._db.driver_connection() as connection:
                    rows = await connection.fetch(
                        CLAIM,
                        self._settings.notification_batch_size,
                        self._events,
                        self._template_ids,
                    )
                if not rows:
                    break
                report.claimed += len(rows)
                batch = self._messages(rows, report)
                if batch:
                    outcomes = await asyncio.gather(*(self._send(c) for c in batch))
                    if recording is not None:
                        await recording
                    recording = asyncio.create_task(self._record(batch, outcomes, report))
                if stop_at is not None and time.monotonic() >= stop_at:
                    report.more = True  # at least one batch a job: a chain always moves on
                    break
        finally:
            if recording is not None:
                await recording
        return report

    def _messages(self, rows: Sequence[asyncpg.Record], report: Report) -> list[Claimed]:
        batch = []
        for row in rows:
            if row["refusal"] is not None:
                report.add(WeChatState.inbox_only)
                continue
            template = self._templates.for_event(row["event"])
            assert template is not None  # the claim found it by the same mapping
            message: dict[str, Any] = {
                "touser": row["openid"],
                "template_id": row["template_id"],
                "data": template.render(
                    title=row["title"],
                    body=row["body"],
                    created_at=row["created_at"],
                    fields=_json(row["fields"]),
                ),
                "miniprogram_state": self._settings.wechat_miniprogram_state,
                "lang": "zh_CN",
            }
            if row["link"]:
                message["page"] = row["link"]
            batch.append(Claimed(row["id"], row["template_id"], row["attempts"], message))
        return batch

    async def _send(self, claimed: Claimed) -> Outcome:
        async with self._semaphore:
            return await self._channel.send(claimed.message)

    async def _record(
        self, batch: Sequence[Claimed], outcomes: Sequence[Outcome], report: Report
    ) -> None:
        now = datetime.now(UTC)
        ids, states, errors, due, templates, refunds, exhausted = [], [], [], [], [], [], []
        for claimed, outcome in zip(batch, outcomes, strict=True):
            state, due_at = self._state(claimed, outcome, now)
            report.add(state)
            ids.append(claimed.id)
            states.append(state)
            errors.append(outcome.error)
            due.append(due_at)
            templates.append(claimed.template_id)
            # Certainly not delivered: the subscription was not used up.
            refunds.append(1 if outcome.result in (Result.retry, Result.failed) else 0)
            exhausted.append(outcome.result is Result.inbox_only)
        async with self._db.driver_connection() as connection:
            await connection.execute(
                RECORD, ids, states, errors, due, templates, refunds, exhausted
            )

    def _state(self, claimed: Claimed, outcome: Outcome, now: datetime) -> tuple[str, Any]:
        if outcome.result is Result.retry:
            if claimed.attempts >= self._settings.notification_max_attempts:
                return WeChatState.failed, None
            return WeChatState.pending, now + backoff(self._settings, claimed.attempts)
        return {
            Result.sent: WeChatState.sent,
            Result.inbox_only: WeChatState.inbox_only,
            Result.failed: WeChatState.failed,
            Result.unknown: WeChatState.unknown,
        }[outcome.result], None


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # the driver hands jsonb over as text
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return value if isinstance(value, dict) else {}
