"""The trainings domain's errors: courses, enrolment, roll and check-in."""

from __future__ import annotations

from app.core.errors import AppError, BadRequest, Conflict, Forbidden, NotFound, ValidationFailed


class TrainingNotFound(NotFound):
    code, title = "training_not_found", "培训不存在"


class EnrollmentNotFound(NotFound):
    code, title = "enrollment_not_found", "该成员未报名此培训"


class AlreadyEnrolled(Conflict):
    code, title = "already_enrolled", "该成员已报名此培训"


class MemberNotEnrolled(ValidationFailed):
    code, title = "member_not_enrolled", "成员未正式报名此培训（候补或未报名）"


class SessionNotFound(NotFound):
    code, title = "session_not_found", "该培训没有这个课次"


class SessionNotOpen(ValidationFailed):
    code, title = "session_not_open", "该课次当前不能签到"


class NotEnrolled(Forbidden):
    code, title = "not_enrolled", "您未正式报名此培训，不能签到"


class CheckinCodeUsed(Conflict):
    code, title = "checkin_code_used", "该签到码您已使用过"


class AlreadyCheckedIn(Conflict):
    code, title = "already_checked_in", "您已签到过该课次"


class CheckinCodeInvalid(BadRequest):
    code, title = "checkin_code_invalid", "签到码无效"


class CheckinCodeExpired(AppError):
    status, code, title = 410, "checkin_code_expired", "签到码已过期，请重新扫码"
