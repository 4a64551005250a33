"""The visits domain's errors."""

from __future__ import annotations

from app.core.errors import Conflict, ValidationFailed


class VisitIdConflict(Conflict):
    code, title = "idempotency_conflict", "该走访编号已用于另一条不同的记录"


class MemberNotInHousehold(ValidationFailed):
    code, title = "member_not_in_household", "成员不属于该户"
