"""The registry's errors: households, members, ID numbers."""

from __future__ import annotations

from app.core.errors import AppError, BadRequest, NotFound, PreconditionFailed


class HouseholdNotFound(NotFound):
    code, title = "household_not_found", "农户不存在"


class MemberNotFound(NotFound):
    code, title = "member_not_found", "家庭成员不存在"


class VersionRequired(AppError):
    status, code, title = 428, "precondition_required", "请提供 If-Match 或 version"


class StaleVersion(PreconditionFailed):
    code, title = "stale_version", "该成员信息已被他人修改，请刷新后重试"


class InvalidIdNumber(AppError):
    status, code, title = 422, "invalid_id_number", "身份证号码不正确"


class BadIfMatch(BadRequest):
    code, title = "invalid_if_match", "If-Match 头格式不正确"
