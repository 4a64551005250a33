"""Every domain's models, imported so `Base.metadata` knows all tables (Alembic, tests)."""

from app.auth.models import RefreshToken, UserAccount, UserRegion
from app.core.db import Base
from app.regions.models import Region

__all__ = ["Base", "RefreshToken", "Region", "UserAccount", "UserRegion"]
