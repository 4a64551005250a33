"""Writing notifications: the one call every domain makes when something happened that people
should hear about.

    await notify(session, recipients=[user_id, …], event="help_request.accepted",
                 title="求助已受理", body="村协管员已受理您的求助", link="pages/help/detail?id=…")

The rows are written in the caller's transaction, so they exist exactly when the event does (a
rollback takes them too), and the delivery job is sent only once that transaction commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ARRAY, Text, Uuid, bindparam, func, insert, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.queue import enqueue_after_commit
from app.notifications.models import Notification

DELIVER_JOB = "notifications.deliver"

EVENT_MAX = Notification.__table__.c.event.type.length
TITLE_MAX = Notification.__table__.c.title.type.length
LINK_MAX = Notification.__table__.c.link.type.length


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Message:
    """One person's notification of an event: its own title and body (a digest's counts)."""

    recipient: uuid.UUID
    title: str
    body: str


async def notify(
    session: AsyncSession,
    *,
    recipients: Sequence[uuid.UUID],
    event: str,
    title: str,
    body: str,
    link: str | None = None,
    fields: Mapping[str, str] | None = None,
) -> None:
    """One notification per recipient (user account ids; repeats count once), in `session`'s
    transaction: each lands in its recipient's inbox and, when `event` has a WeChat template
    and the recipient a subscription left, as a WeChat message.

    `event` names what happened (`help_request.accepted`; it picks the template), `fields` the
    template's further values by name (`fields.<name>` in `templates.json`). A title longer
    than the inbox keeps is cut; an over-long `event` or `link` is a programming error."""
    await notify_each(
        session,
        event=event,
        messages=[Message(recipient, title, body) for recipient in recipients],
        link=link,
        fields=fields,
    )


async def notify_each(
    session: AsyncSession,
    *,
    event: str,
    messages: Sequence[Message],
    link: str | None = None,
    fields: Mapping[str, str] | None = None,
) -> None:
    """`notify` for people who each hear something of their own (a run's digest: each
    coordinator's counts): one notification per message, a recipient named twice getting the
    first, all in one statement."""
    unique = list({m.recipient: m for m in reversed(messages)}.values())[::-1]
    if not unique:
        return
    if not event or len(event) > EVENT_MAX:
        raise ValueError(f"event must be 1 to {EVENT_MAX} characters: {event!r}")
    if link is not None and len(link) > LINK_MAX:
        raise ValueError(f"link must be at most {LINK_MAX} characters")
    # One statement whatever the number of recipients: each column travels as one array.
    sent = (
        func.unnest(
            bindparam("recipients", [m.recipient for m in unique], type_=ARRAY(Uuid())),
            bindparam("titles", [_clip(m.title, TITLE_MAX) for m in unique], type_=ARRAY(Text())),
            bindparam("bodies", [m.body for m in unique], type_=ARRAY(Text())),
        )
        .table_valued("recipient_id", "title", "body")
        .render_derived()
    )
    rows = select(
        sent.c.recipient_id,
        literal(event),
        sent.c.title,
        sent.c.body,
        literal(link, Notification.__table__.c.link.type),
        bindparam("fields", dict(fields or {}), type_=JSONB),
    )
    table = Notification.__table__
    await session.execute(
        insert(table).from_select(
            [table.c.recipient_id, table.c.event, table.c.title, table.c.body, table.c.link,
             table.c.fields],
            rows,
            include_defaults=False,
        )
    )  # fmt: skip
    enqueue_after_commit(session, DELIVER_JOB)
