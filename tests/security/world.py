"""A small world to attack: one village's objects (the victim's), and callers of every role
placed around it, from the next village to another county."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts.models import Alert, AlertRun
from app.alerts.settings_models import EmploymentTarget, MonitoringLine
from app.audit import service as audit
from app.auth.models import Role, UserAccount
from app.core.caller import Principal
from app.core.config import Settings
from app.core.db import Base
from app.core.periods import current_period, today
from app.feed.checks_models import DataCheckExemption
from app.feed.models import FeedConflict, FeedImport, FeedSyncRun
from app.help_requests.models import HelpRequest
from app.jobs.models import Job, JobPush
from app.notifications.models import Notification
from app.regions.models import Region
from app.trainings import checkin
from app.trainings.models import (
    Training,
    TrainingAttendance,
    TrainingEnrollment,
    TrainingSession,
)
from app.visits.models import Visit
from tests.households.factories import PersonSpec, make_household, synthetic_id_number

VICTIM_VILLAGE = "450226100201"  # 大寨村, 古宜镇, 三江县
SIBLING_VILLAGE = "450226100202"  # 龙吉村, the same township
OTHER_TOWNSHIP = "450226101000"  # 斗江镇, the same county
OTHER_TOWNSHIP_VILLAGE = "450226101201"
VICTIM_TOWNSHIP = "450226100000"
VICTIM_COUNTY = "450226000000"
# A second county of the same city, added to the demo regions.
OTHER_COUNTY = "450224000000"
OTHER_COUNTY_TOWNSHIP = "450224100000"
OTHER_COUNTY_VILLAGE = "450224100201"
_OTHER_COUNTY_REGIONS = (
    (OTHER_COUNTY, "融安县", "county", "450200000000"),
    (OTHER_COUNTY_TOWNSHIP, "长安镇", "township", OTHER_COUNTY),
    (OTHER_COUNTY_VILLAGE, "大巷村", "village", OTHER_COUNTY_TOWNSHIP),
)

Headers = dict[str, str]


@dataclass
class World:
    household_id: uuid.UUID
    member_id: uuid.UUID  # labour force, enrolled, pushed the job, bound to `victim_villager`
    other_member_id: uuid.UUID  # enrolled and marked present at the session
    id_number: str
    job_id: uuid.UUID
    push_id: uuid.UUID
    training_id: uuid.UUID
    session_id: uuid.UUID
    visit_id: uuid.UUID
    checkin_code: str
    period: str
    coordinator_id: uuid.UUID  # the village's coordinator
    import_id: uuid.UUID  # a spreadsheet import of the village's township
    run_id: uuid.UUID  # a pull of the feed (the whole feed: every manager may read it)
    conflict_id: uuid.UUID  # the feed and a visit disagree about the member's month
    # A course in the next village with the same two members enrolled (and the second marked
    # present): its staff reach the course, not the members.
    shared_training_id: uuid.UUID
    shared_session_id: uuid.UUID
    # The household exempted from a data check.
    exemption_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # The member's request for help, filed and waiting for the village's coordinator.
    help_request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # A notification in the inbox of the household's villager (`victim_villager`).
    notification_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # An open alert about the member (employment lost), and an alert run over the township.
    alert_id: uuid.UUID = field(default_factory=uuid.uuid4)
    alert_run_id: uuid.UUID = field(default_factory=uuid.uuid4)
    # Everyone who may act on the victim's objects, by name.
    insiders: dict[str, Headers] = field(default_factory=dict)
    # Everyone who may not, by name.
    outsiders: dict[str, Headers] = field(default_factory=dict)

    @property
    def secrets(self) -> list[str]:
        """What no outsider's answer may contain."""
        return [
            str(value)
            for value in (
                self.household_id,
                self.member_id,
                self.other_member_id,
                self.push_id,
                self.training_id,
                self.session_id,
                self.visit_id,
                self.exemption_id,
                self.conflict_id,
                self.help_request_id,
                self.notification_id,
                self.alert_id,
                self.alert_run_id,
            )
        ] + [self.id_number]


async def _course(
    db: AsyncSession, region: str, member_ids: tuple[uuid.UUID, uuid.UUID]
) -> tuple[uuid.UUID, uuid.UUID]:
    """A course under way in `region`, one session, both members enrolled, the second marked
    present."""
    now = datetime.now(UTC)
    starts_at, ends_at = now - timedelta(minutes=10), now + timedelta(hours=4)
    training = await db.scalar(
        insert(Training)
        .values(
            title="电工技能培训",
            type="职业技能",
            region_code=region,
            organizer="县人社局",
            location="村委会",
            capacity=5,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        .returning(Training.id)
    )
    sitting = await db.scalar(
        insert(TrainingSession)
        .values(training_id=training, starts_at=starts_at, ends_at=ends_at)
        .returning(TrainingSession.id)
    )
    await db.execute(
        insert(TrainingEnrollment),
        [
            {"training_id": training, "member_id": m, "status": "enrolled", "created_at": now}
            for m in member_ids
        ],
    )
    await db.execute(
        insert(TrainingAttendance).values(
            session_id=sitting,
            member_id=member_ids[1],
            training_id=training,
            present=True,
            source="roll",
        )
    )
    return training, sitting


async def build_world(
    db: AsyncSession,
    settings: Settings,
    make_user: Callable,
    auth: Callable[[UserAccount], Headers],
) -> World:
    await db.execute(
        insert(Region),
        [
            {"code": code, "name": name, "level": level, "parent_code": parent}
            for code, name, level, parent in _OTHER_COUNTY_REGIONS
        ],
    )
    await db.commit()
    id_number = synthetic_id_number()
    household, (member, other_member) = await make_household(
        db,
        settings,
        VICTIM_VILLAGE,
        [PersonSpec("韦强", id_number=id_number), PersonSpec("韦梅", relation="之女")],
    )
    _, (neighbour,) = await make_household(db, settings, VICTIM_VILLAGE, [PersonSpec("杨一")])
    coordinator = await make_user(Role.coordinator, [VICTIM_VILLAGE])
    job = await db.scalar(
        insert(Job)
        .values(
            title="电子厂普工",
            employer="广东某电子厂",
            region_code=VICTIM_VILLAGE,
            location_type="省外",
            wage_min=4000,
            wage_max=6000,
            headcount=10,
            source="劳务协作",
            valid_until=today() + timedelta(days=30),
        )
        .returning(Job.id)
    )
    push = await db.scalar(
        insert(JobPush)
        .values(
            job_id=job,
            member_id=member.id,
            village_code=VICTIM_VILLAGE,
            round=1,
            pushed_by=coordinator.id,
        )
        .returning(JobPush.id)
    )
    now = datetime.now(UTC)
    training, sitting = await _course(db, VICTIM_VILLAGE, (member.id, other_member.id))
    # The same members on a course of the next village (a manager of the county enrolled them).
    shared_training, shared_sitting = await _course(
        db, SIBLING_VILLAGE, (member.id, other_member.id)
    )
    visit = uuid.uuid4()
    await db.execute(
        insert(Visit).values(
            id=visit,
            household_id=household.id,
            coordinator_id=coordinator.id,
            village_code=VICTIM_VILLAGE,
            visited_at=now - timedelta(days=1),
            method="in_person",
            request_hash="0" * 64,
        )
    )
    exemption = await db.scalar(
        insert(DataCheckExemption)
        .values(
            rule="household_head_count",
            household_id=household.id,
            member_id=None,
            reason="户主已迁出，待变更",
        )
        .returning(DataCheckExemption.id)
    )
    period = current_period()
    side = {"months": 0, "income": None, "employer": None}
    conflict = await db.scalar(
        insert(FeedConflict)
        .values(
            kind="employment",
            member_no=member.member_no,
            member_id=member.id,
            village_code=VICTIM_VILLAGE,
            period=period,
            ours={
                **side,
                "status": "务工",
                "region": "县内",
                "channel": "就业帮扶车间",
                "source": "visit",
                "observed_at": now.isoformat(),
            },
            theirs={
                **side,
                "status": "未务工",
                "region": None,
                "channel": None,
                "source": "feed",
                "observed_at": (now - timedelta(days=2)).isoformat(),
            },
        )
        .returning(FeedConflict.id)
    )
    audit.record(
        db,
        Principal.system("security.world").actor,
        action="update",
        entity="member",
        entity_id=member.id,
        region_code=VICTIM_VILLAGE,
        changes={"name": ("韦壮", "韦强")},
    )
    upload = await db.scalar(
        insert(FeedImport)
        .values(
            id=uuid.uuid4(), filename="三江县监测对象.xlsx", path="/nonexistent.xlsx",
            size_bytes=1, region_code=VICTIM_TOWNSHIP, status="succeeded",
        )
        .returning(FeedImport.id)
    )  # fmt: skip
    run = await db.scalar(
        insert(FeedSyncRun)
        .values(id=uuid.uuid4(), trigger="manual", status="succeeded")
        .returning(FeedSyncRun.id)
    )
    help_request = await db.scalar(
        insert(HelpRequest)
        .values(
            id=uuid.uuid4(), member_id=member.id, village_code=VICTIM_VILLAGE,
            routed_to=VICTIM_VILLAGE, category="找工作", description="想在县里找工作",
            contact_method="phone", status="submitted", filed_by=coordinator.id,
            request_hash="0" * 64,
        )
        .returning(HelpRequest.id)
    )  # fmt: skip
    # The village's monitoring line and employment target of the year (alert settings).
    await db.execute(
        insert(MonitoringLine).values(
            region_code=VICTIM_VILLAGE, year=int(period[:4]), amount=Decimal("8000")
        )
    )
    await db.execute(
        insert(EmploymentTarget).values(region_code=VICTIM_VILLAGE, year=int(period[:4]), target=50)
    )
    await db.commit()

    async def villager(member_id: uuid.UUID) -> UserAccount:
        user = await make_user(Role.villager)
        await db.execute(
            update(UserAccount).where(UserAccount.id == user.id).values(member_id=member_id)
        )
        await db.commit()
        return user

    code, _ = checkin.issue(settings.jwt_secret, training, sitting, 300)
    world = World(
        household_id=household.id,
        member_id=member.id,
        other_member_id=other_member.id,
        id_number=id_number,
        job_id=job,
        push_id=push,
        training_id=training,
        session_id=sitting,
        visit_id=visit,
        checkin_code=code,
        period=period,
        coordinator_id=coordinator.id,
        import_id=upload,
        run_id=run,
        conflict_id=conflict,
        shared_training_id=shared_training,
        shared_session_id=shared_sitting,
        exemption_id=exemption,
        help_request_id=help_request,
    )
    victim_villager = await villager(member.id)
    await db.execute(
        insert(Notification).values(
            id=world.notification_id,
            recipient_id=victim_villager.id,
            event="job.pushed",
            title="新岗位推送",
            body="电子厂普工",
        )
    )
    await db.execute(
        insert(Alert).values(
            id=world.alert_id,
            rule="employment_lost",
            subject=str(member.id),
            kind="risk",
            county_code=VICTIM_COUNTY,
            region_code=VICTIM_VILLAGE,
            household_id=household.id,
            member_id=member.id,
            status="open",
            opened_period=period,
            last_period=period,
            evidence={period: {"period": period, "status": "未务工"}},
        )
    )
    await db.execute(
        insert(AlertRun).values(
            id=world.alert_run_id, period=period, region_code=VICTIM_TOWNSHIP,
            trigger="manual", status="succeeded",
        )
    )  # fmt: skip
    await db.commit()
    world.insiders = {
        "coordinator of the village": auth(coordinator),
        "manager of the county": auth(await make_user(Role.manager, [VICTIM_COUNTY])),
        "villager of the household": auth(victim_villager),
    }
    world.outsiders = {
        "coordinator of the next village": auth(
            await make_user(Role.coordinator, [SIBLING_VILLAGE])
        ),
        "coordinator of another township": auth(
            await make_user(Role.coordinator, [OTHER_TOWNSHIP_VILLAGE])
        ),
        "manager of another township": auth(await make_user(Role.manager, [OTHER_TOWNSHIP])),
        "coordinator of another county": auth(
            await make_user(Role.coordinator, [OTHER_COUNTY_VILLAGE])
        ),
        "manager of another county": auth(await make_user(Role.manager, [OTHER_COUNTY])),
        "villager of another household": auth(await villager(neighbour.id)),
    }
    return world


async def fingerprint(db: AsyncSession) -> dict[str, str]:
    """Every table's content, hashed, in one query: any row added, removed or changed shows."""
    # Table names from our own metadata, not from input.
    digest = "md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), ''))"
    select_digest = "SELECT '{0}', " + digest + ' FROM "{0}" AS r'  # noqa: S608
    parts = [select_digest.format(t.name) for t in Base.metadata.sorted_tables]
    rows = await db.execute(text(" UNION ALL ".join(parts)))
    await db.rollback()
    return dict(rows.all())
