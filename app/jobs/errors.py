"""The jobs domain's errors: openings and pushes."""

from __future__ import annotations

from app.core.errors import Conflict, NotFound, ValidationFailed


class JobNotFound(NotFound):
    code, title = "job_not_found", "岗位不存在"


class NotLabourForce(ValidationFailed):
    code, title = "not_labour_force", "该成员不是劳动力，不能推送岗位"


class PushNotFound(NotFound):
    code, title = "job_push_not_found", "推送记录不存在"


class JobClosed(Conflict):
    code, title = "job_closed", "岗位已关闭或已过期"


class IllegalTransition(Conflict):
    code, title = "illegal_transition", "推送状态不能这样变更"
