"""Push-back: what coordinators recorded (monthly employment observed on visits or typed in)
goes back to the feed's `POST /v1/updates`, in batches, each under an `Idempotency-Key`.

The rules, and where each is kept:
- A batch is recorded with its items, its payloads as they will be sent and its key, and
  committed, before it is first sent (`record_next_batch`). Until its answer is recorded it is
  `pending`, and every push first sends the pending batches again, as they stand, under their
  own key (`pending_batches`): a lost answer (timeout, crash, a worker killed) is asked again,
  and a well-behaved feed applies the batch once.
- A member's month in a pending batch is never put into another batch: a change made while
  the batch waits for its answer goes into a later batch, after that answer, under another key.
  Batches are built one at a time (a transaction lock), so two workers never share a change.
- The key is the SHA-256 of the batch's content: its updates, and for each the key of the
  batch that last carried that member's month. The same content sent again later (a month
  changed and changed back, or an update the feed refused, sent again) gets a new key, so the
  feed cannot answer it from an earlier exchange.
- On the answer (`record_answer`): each refused item keeps the feed's reason, and is sent
  again by the next push; each accepted item's digest (of the values sent) is remembered per
  member and month (`feed_pushed`), so a month is sent again only when its values change.

Which rows go back: `member_employment` rows of source `visit` or `manual`, of members still
in the registry (a resolved conflict is written there, and so goes back too).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import session_driver_connection
from app.core.periods import SHANGHAI
from app.feed.client import FeedClient, FeedError, FeedRefused, FeedUnavailable, UpdatesAnswer
from app.policy.values import ObservationSource

logger = logging.getLogger(__name__)

PUSHED_SOURCES = [ObservationSource.visit.value, ObservationSource.manual.value]
_BUILD_LOCK = "SELECT pg_advisory_xact_lock(hashtext('wengang.feed.push'))"

# The months to send, oldest observation first: pushed sources, members in the registry,
# values not yet accepted by the feed, not waiting in a pending batch, not refused by this
# push already ($3: its batches). With each, the key of the batch that last carried that
# month (whatever its fate).
CANDIDATES = """
SELECT e.member_id, e.period, m.member_no, e.observed_at, e.source, v.employment::text,
       d.digest, last.idempotency_key AS after
FROM member_employment e
JOIN member m ON m.id = e.member_id AND m.deleted_at IS NULL
CROSS JOIN LATERAL (
    SELECT jsonb_build_object(
        'status', e.status, 'region', e.work_region, 'channel', e.channel,
        'employer', e.employer, 'months', e.months, 'income', e.income, 'period', e.period
    ) AS employment
) v
CROSS JOIN LATERAL (SELECT sha256(convert_to(v.employment::text, 'UTF8')) AS digest) d
LEFT JOIN LATERAL (
    SELECT b.idempotency_key
    FROM feed_push_item i JOIN feed_push_batch b ON b.id = i.batch_id
    WHERE i.member_id = e.member_id AND i.period = e.period
    ORDER BY b.created_at DESC, b.id DESC
    LIMIT 1
) last ON true
WHERE e.source = ANY($1::text[])
  AND NOT EXISTS (
    SELECT 1 FROM feed_pushed p
    WHERE p.member_id = e.member_id AND p.period = e.period AND p.digest = d.digest
  )
  AND NOT EXISTS (
    SELECT 1 FROM feed_push_item i JOIN feed_push_batch b ON b.id = i.batch_id
    WHERE b.status = 'pending' AND i.member_id = e.member_id AND i.period = e.period
  )
  AND NOT EXISTS (
    SELECT 1 FROM feed_push_item r
    WHERE r.batch_id = ANY($3::uuid[]) AND r.status = 'rejected'
      AND r.member_id = e.member_id AND r.period = e.period
  )
ORDER BY e.observed_at, e.member_id, e.period
LIMIT $2
"""
INSERT_BATCH = """
INSERT INTO feed_push_batch (id, idempotency_key, status, items)
VALUES ($1, $2, 'pending', $3)
"""
INSERT_ITEMS = """
INSERT INTO feed_push_item (batch_id, position, member_id, period, digest, payload, status)
SELECT $1, u.position, u.member_id, u.period, u.digest, u.payload::jsonb, 'sent'
FROM unnest($2::int[], $3::uuid[], $4::text[], $5::bytea[], $6::text[])
    AS u(position, member_id, period, digest, payload)
"""
PENDING = """
SELECT b.id, b.idempotency_key,
       array_agg(i.payload::text ORDER BY i.position) AS payloads
FROM feed_push_batch b JOIN feed_push_item i ON i.batch_id = b.id
WHERE b.status = 'pending'
GROUP BY b.id
ORDER BY b.created_at, b.id
"""
# The answer, once: the batch leaves `pending` in the statement that records it.
ANSWER_BATCH = """
UPDATE feed_push_batch
SET status = 'answered', accepted = $2, rejected = $3, attempts = attempts + 1,
    error = NULL, last_sent_at = now(), answered_at = now()
WHERE id = $1 AND status = 'pending'
RETURNING id
"""
ANSWER_ITEMS = """
UPDATE feed_push_item i
SET status = CASE WHEN r.reason IS NULL THEN 'accepted' ELSE 'rejected' END, reason = r.reason
FROM (
    SELECT i2.position, u.reason
    FROM feed_push_item i2
    LEFT JOIN unnest($2::int[], $3::text[]) AS u(position, reason) ON u.position = i2.position
    WHERE i2.batch_id = $1
) r
WHERE i.batch_id = $1 AND i.position = r.position
"""
REMEMBER_ACCEPTED = """
INSERT INTO feed_pushed (member_id, period, digest, batch_id, accepted_at)
SELECT member_id, period, digest, batch_id, now()
FROM feed_push_item
WHERE batch_id = $1 AND status = 'accepted'
ON CONFLICT (member_id, period) DO UPDATE
SET digest = excluded.digest, batch_id = excluded.batch_id, accepted_at = excluded.accepted_at
"""
FAILED_ATTEMPT = """
UPDATE feed_push_batch
SET attempts = attempts + 1, error = $2, last_sent_at = now()
WHERE id = $1 AND status = 'pending'
"""

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass(frozen=True, slots=True)
class PushBatch:
    id: uuid.UUID
    key: str
    updates: list[dict[str, Any]]


@dataclass
class PushReport:
    """What one push did."""

    batches: int = 0  # answered by the feed in this push
    resent: int = 0  # of them, batches recorded by an earlier push
    accepted: int = 0
    rejected: int = 0
    # "done"; "unavailable" (no answer: the batch waits for the next push); "refused" (401/403:
    # an admin must act); "failed" (another answer we cannot use). The batch stays pending.
    outcome: str = "done"
    error: str | None = None
    keys: list[str] = field(default_factory=list)  # of the batches answered, in order
    batch_ids: list[uuid.UUID] = field(default_factory=list)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def batch_key(updates: list[dict[str, Any]], after: list[str | None]) -> str:
    """The batch's `Idempotency-Key`: SHA-256 of its updates and, for each, the key of the
    batch that last carried its member's month."""
    content = canonical_json({"updates": updates, "after": after})
    return hashlib.sha256(content.encode()).hexdigest()


async def pending_batches(session: AsyncSession) -> list[PushBatch]:
    """The batches recorded and not answered, oldest first, as they are to be sent again."""
    connection = await session_driver_connection(session)
    rows = await connection.fetch(PENDING)
    return [
        PushBatch(row["id"], row["idempotency_key"], [json.loads(p) for p in row["payloads"]])
        for row in rows
    ]


async def record_next_batch(
    session: AsyncSession, size: int, *, answered: Sequence[uuid.UUID] = ()
) -> PushBatch | None:
    """Records the next batch of at most `size` months to send, or None when none is left;
    the months the feed refused in `answered` (this push's batches) wait for the next push.
    The caller commits before sending it."""
    connection = await session_driver_connection(session)
    await connection.execute(_BUILD_LOCK)
    rows = await connection.fetch(CANDIDATES, PUSHED_SOURCES, size, list(answered))
    if not rows:
        return None
    updates = [
        {
            "member_no": row["member_no"],
            "period": row["period"],
            "employment": json.loads(row["employment"]),
            "observed_at": row["observed_at"].astimezone(SHANGHAI).isoformat(),
            "source": row["source"],
        }
        for row in rows
    ]
    key = batch_key(updates, [row["after"] for row in rows])
    batch_id = uuid.uuid4()
    await connection.execute(INSERT_BATCH, batch_id, key, len(updates))
    await connection.execute(
        INSERT_ITEMS,
        batch_id,
        list(range(len(rows))),
        [row["member_id"] for row in rows],
        [row["period"] for row in rows],
        [row["digest"] for row in rows],
        [canonical_json(update) for update in updates],
    )
    return PushBatch(batch_id, key, updates)


async def record_answer(session: AsyncSession, batch: PushBatch, answer: UpdatesAnswer) -> bool:
    """Records the feed's answer to `batch`; False when it was already recorded (another
    worker sent the same batch at the same time)."""
    connection = await session_driver_connection(session)
    rejected = dict(answer.rejected)
    if answer.accepted + len(rejected) != len(batch.updates):
        logger.warning(
            "feed answered %s accepted and %s rejected for a batch of %s (key %s)",
            answer.accepted,
            len(rejected),
            len(batch.updates),
            batch.key,
        )
    accepted = len(batch.updates) - len(rejected)
    if await connection.fetchval(ANSWER_BATCH, batch.id, accepted, len(rejected)) is None:
        return False
    await connection.execute(
        ANSWER_ITEMS,
        batch.id,
        list(rejected),
        [reason or "未说明原因" for reason in rejected.values()],
    )
    await connection.execute(REMEMBER_ACCEPTED, batch.id)
    return True


async def record_failure(session: AsyncSession, batch: PushBatch, error: str) -> None:
    connection = await session_driver_connection(session)
    await connection.execute(FAILED_ATTEMPT, batch.id, error[:1000])


async def push_updates(
    sessions: Sessions, client: FeedClient, *, batch_size: int, max_batches: int | None = None
) -> PushReport:
    """Sends the pending batches again, then records and sends new ones until nothing is left
    (or `max_batches` were answered). Each step commits on its own (`sessions`); stops at
    the first batch the feed does not answer, which stays pending for the next push."""
    report = PushReport()
    async with sessions() as session:
        waiting = await pending_batches(session)
    for batch in waiting:
        if not await _send(sessions, client, batch, report):
            return report
        report.resent += 1
    while max_batches is None or report.batches < max_batches:
        async with sessions() as session:
            batch = await record_next_batch(session, batch_size, answered=report.batch_ids)
        if batch is None:
            break
        if not await _send(sessions, client, batch, report):
            break
    return report


async def _send(
    sessions: Sessions, client: FeedClient, batch: PushBatch, report: PushReport
) -> bool:
    try:
        answer = await client.post_updates(batch.key, batch.updates)
    except FeedError as exc:
        if isinstance(exc, FeedRefused):
            report.outcome = "refused"
        elif isinstance(exc, FeedUnavailable):
            report.outcome = "unavailable"
        else:
            report.outcome = "failed"
        report.error = str(exc)
        logger.warning("feed push stopped: %s (batch %s stays pending)", exc, batch.key)
        async with sessions() as session:
            await record_failure(session, batch, str(exc))
        return False
    async with sessions() as session:
        await record_answer(session, batch, answer)
    report.batches += 1
    report.accepted += answer.accepted
    report.rejected += len(answer.rejected)
    report.keys.append(batch.key)
    report.batch_ids.append(batch.id)
    return True
