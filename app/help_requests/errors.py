"""The help-requests domain's errors."""

from __future__ import annotations

from app.core.errors import Conflict, Forbidden, NotFound


class HelpRequestNotFound(NotFound):
    code, title = "help_request_not_found", "求助不存在"


class HelpRequestIdConflict(Conflict):
    code, title = "idempotency_conflict", "该求助编号已用于另一条不同的求助"


class IllegalTransition(Conflict):
    code, title = "illegal_transition", "求助当前的状态不能执行此操作"


class NotBoundToMember(Forbidden):
    code, title = "not_bound_to_member", "账号尚未绑定村民身份，无法提交求助"


class StaffFileForAMember(Forbidden):
    code, title = "member_required", "工作人员只能代村民提交求助：请指明村民（member_id）"


class NotYourRequest(Forbidden):
    code, title = "not_your_request", "只有提出求助的村民本人可以执行此操作"


class CoordinatorsOnly(Forbidden):
    code, title = "coordinators_only", "只有村级协理员可以执行此操作"
