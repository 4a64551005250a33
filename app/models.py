"""Every domain's models, imported so `Base.metadata` knows all tables (Alembic, tests)."""

from app.audit.models import AuditEvent
from app.auth.models import RefreshToken, UserAccount, UserRegion
from app.core.db import Base
from app.households.models import Household, Member, MemberEmployment, MemberIntent
from app.regions.models import Region
from app.visits.models import Visit

__all__ = [
    "AuditEvent",
    "Base",
    "Household",
    "Member",
    "MemberEmployment",
    "MemberIntent",
    "RefreshToken",
    "Region",
    "UserAccount",
    "UserRegion",
    "Visit",
]
