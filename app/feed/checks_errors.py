"""Data checks' errors."""

from __future__ import annotations

from app.core.errors import Conflict, NotFound


class ExemptionNotFound(NotFound):
    code, title = "check_exemption_not_found", "核查豁免不存在"


class ExemptionExists(Conflict):
    code, title = "check_exemption_exists", "该规则已对此户或成员豁免"
