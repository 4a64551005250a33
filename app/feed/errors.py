"""The feed's errors."""

from __future__ import annotations

from app.core.errors import AppError, Conflict, NotFound


class ImportNotFound(NotFound):
    code, title = "import_not_found", "导入任务不存在"


class SyncRunNotFound(NotFound):
    code, title = "sync_run_not_found", "同步任务不存在"


class UnreadableSpreadsheet(AppError):
    status, code, title = 422, "unreadable_spreadsheet", "无法识别的表格文件"


class EmptyUpload(AppError):
    status, code, title = 422, "empty_upload", "上传的文件是空的"


class ConflictNotFound(NotFound):
    code, title = "conflict_not_found", "对账事项不存在"


class ConflictResolved(Conflict):
    code, title = "conflict_resolved", "该对账事项已处理"
