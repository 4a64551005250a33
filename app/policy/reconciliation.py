"""Reconciliation with the monitoring feed (`DOMAIN.md`, "The monitoring feed"): while the
feed and a coordinator disagree about a member's month, which value our working copy shows.
Each county chooses (`feed_setting.precedence`); the disagreement itself always becomes an
item for a township or county user, whichever side shows."""

from __future__ import annotations

from datetime import datetime

from app.feed.values import Precedence

DEFAULT_PRECEDENCE = Precedence.ours


def takes_theirs(
    precedence: str, ours_observed_at: datetime | None, theirs_observed_at: datetime | None
) -> bool:
    """Whether the working copy takes the feed's value: `theirs` always, `ours` never,
    `newer` when the feed observed it later than the coordinator (a spreadsheet row, which
    has no time, is not newer)."""
    if precedence == Precedence.theirs:
        return True
    if precedence == Precedence.newer:
        return (
            theirs_observed_at is not None
            and ours_observed_at is not None
            and theirs_observed_at > ours_observed_at
        )
    return False


def takes_theirs_sql(row: str) -> str:
    """`takes_theirs` as SQL, over `row`'s `precedence`, `our_observed_at` and `observed_at`."""
    return (
        f"({row}.precedence = '{Precedence.theirs}' OR ({row}.precedence = '{Precedence.newer}'"
        f" AND coalesce({row}.observed_at > {row}.our_observed_at, false)))"
    )
