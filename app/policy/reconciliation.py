"""Reconciliation: which side our working copy shows while the feed and a coordinator disagree
about one member's month (DOMAIN.md, "The monitoring feed"; FEED.md, "Reconciliation").

Neither side is overwritten silently: the disagreement becomes a conflict item either way, and
the county's precedence (`feed_setting.precedence`, `ours` when the county has set none)
decides only what `member_employment` shows until a township or county user resolves it:

- `ours`: the coordinator's observation stays (the default);
- `theirs`: the feed's value replaces it;
- `newer`: the feed's value replaces it only when it was observed strictly later (its
  `updated_at` after our `observed_at`). A tie, or a side whose time is unknown, keeps ours: a
  coordinator saw the household, and the feed's time is when the record changed upstream.

The rule is stated once, as a SQL expression (`working_copy_side_sql`): every path that
applies feed records does it set-based, over a whole page or file at once.
"""

from __future__ import annotations

from enum import StrEnum

from app.feed.values import Precedence

DEFAULT_PRECEDENCE = Precedence.ours


class Side(StrEnum):
    ours = "ours"
    theirs = "theirs"


def working_copy_side_sql(precedence: str, ours_observed_at: str, theirs_observed_at: str) -> str:
    """The side our working copy shows, as a SQL expression answering `'ours'` or `'theirs'`,
    over the given SQL expressions (column names, e.g. `s.precedence`, `o.observed_at`,
    `t.updated_at`): a precedence that is NULL (a county without a `feed_setting` row) is
    the default. The arguments are written into the SQL as they are: pass column names of
    your own statement, never input."""
    rule = f"coalesce({precedence}, '{DEFAULT_PRECEDENCE.value}')"
    # `>` is NULL when either time is unknown: no branch holds, and ours stays.
    return (
        f"CASE WHEN {rule} = '{Precedence.theirs.value}' THEN '{Side.theirs.value}'"
        f" WHEN {rule} = '{Precedence.newer.value}'"
        f" AND {theirs_observed_at} > {ours_observed_at} THEN '{Side.theirs.value}'"
        f" ELSE '{Side.ours.value}' END"
    )
