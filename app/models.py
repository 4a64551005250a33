"""Every domain's models, imported so `Base.metadata` knows all tables (Alembic, tests)."""

from app.alerts.history_models import MemberEmploymentHistory
from app.alerts.models import Alert, AlertCountyPeriod, AlertRun
from app.alerts.settings_models import (
    AlertRuleSetting,
    AlertSchedule,
    EmploymentTarget,
    MonitoringLine,
)
from app.audit.models import AuditEvent
from app.auth.models import RefreshToken, UserAccount, UserRegion
from app.core.db import Base
from app.feed.checks_models import DataCheckExemption, DataCheckFinding
from app.feed.models import (
    FeedConflict,
    FeedCursor,
    FeedImport,
    FeedPushBatch,
    FeedPushed,
    FeedPushItem,
    FeedRowError,
    FeedSetting,
    FeedSyncRun,
)
from app.help_requests.models import (
    HelpRequest,
    HelpRequestEscalation,
    HelpRequestEvent,
    HelpRequestSetting,
)
from app.households.models import (
    Household,
    Member,
    MemberEmployment,
    MemberIntent,
    RegistrySetting,
)
from app.jobs.models import Job, JobPush
from app.notifications.models import Notification, NotificationSubscription
from app.regions.models import Region
from app.trainings.models import Training, TrainingAttendance, TrainingEnrollment, TrainingSession
from app.visits.models import Visit

__all__ = [
    "Alert",
    "AlertCountyPeriod",
    "AlertRuleSetting",
    "AlertRun",
    "AlertSchedule",
    "AuditEvent",
    "Base",
    "DataCheckExemption",
    "DataCheckFinding",
    "EmploymentTarget",
    "FeedConflict",
    "FeedCursor",
    "FeedImport",
    "FeedPushBatch",
    "FeedPushItem",
    "FeedPushed",
    "FeedRowError",
    "FeedSetting",
    "FeedSyncRun",
    "HelpRequest",
    "HelpRequestEscalation",
    "HelpRequestEvent",
    "HelpRequestSetting",
    "Household",
    "Job",
    "JobPush",
    "Member",
    "MemberEmployment",
    "MemberEmploymentHistory",
    "MemberIntent",
    "MonitoringLine",
    "Notification",
    "NotificationSubscription",
    "RefreshToken",
    "Region",
    "RegistrySetting",
    "Training",
    "TrainingAttendance",
    "TrainingEnrollment",
    "TrainingSession",
    "UserAccount",
    "UserRegion",
    "Visit",
]
