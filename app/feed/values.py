"""The feed's value sets."""

from __future__ import annotations

from enum import StrEnum


class RunTrigger(StrEnum):
    cron = "cron"
    manual = "manual"


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    # Stopped by the feed: it refused our token (401/403). An admin must act.
    refused = "refused"
    failed = "failed"


class ConflictKind(StrEnum):
    employment = "employment"
    id_number_invalid = "id_number_invalid"
    id_number_shared = "id_number_shared"


class ConflictStatus(StrEnum):
    open = "open"
    resolved = "resolved"


class ConflictResolution(StrEnum):
    ours = "ours"  # keep what the coordinator recorded
    theirs = "theirs"  # take the feed's value
    value = "value"  # a value entered by the resolver
    dismissed = "dismissed"  # an ID-number item looked at: nothing to write


class Precedence(StrEnum):
    """Which side our working copy shows while a disagreement is open."""

    ours = "ours"  # the coordinator's observation stays (default)
    theirs = "theirs"  # the feed's value replaces it
    newer = "newer"  # whichever was observed later


class PushStatus(StrEnum):
    """A batch of updates sent back to the feed."""

    pending = "pending"  # recorded; sent or not, its answer not yet recorded
    answered = "answered"


class PushItemStatus(StrEnum):
    sent = "sent"  # in a batch not yet answered
    accepted = "accepted"
    rejected = "rejected"  # kept with the feed's reason; sent again by the next push
