"""Demo job openings and trainings, so matching and the training list show something at once.

Each has a fixed id, and rows are inserted with ON CONFLICT DO NOTHING: seeding again adds only
what is missing and never touches a demo row someone has since edited or closed. Dates are set
from the day of the first seeding (jobs valid for three months, trainings in the coming weeks).
The jobs use the skills and wanted job types the synthetic population draws from
(`app/demo/people.py`), and cover each kind of place and source.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.periods import SHANGHAI, today
from app.jobs.models import Job
from app.policy.values import JobSource, TrainingType, WorkRegion
from app.trainings.models import Training, TrainingSession

_NAMESPACE = uuid.UUID("6f1d3c52-6a7e-4b8f-9a43-1c2e5d0b7a90")
JOB_VALID_DAYS = 90

COUNTY, LIUZHOU = "450226000000", "450200000000"
GUYI, DOUJIANG, DANZHOU = "450226100000", "450226101000", "450226102000"


@dataclass(frozen=True)
class DemoJob:
    key: str
    title: str
    employer: str
    region_code: str
    location_type: WorkRegion
    wage: tuple[int, int]
    headcount: int
    source: JobSource
    skills: tuple[str, ...] = ()
    requirements: str = ""
    heavy_labour: bool = False


@dataclass(frozen=True)
class DemoTraining:
    key: str
    title: str
    type: TrainingType
    region_code: str
    organizer: str
    location: str
    capacity: int
    starts_in_days: int
    days: int  # one session a day, 09:00 to 17:00 Asia/Shanghai


DEMO_JOBS = (
    DemoJob(
        "dongguan-electronics",
        "电子厂装配普工",
        "东莞市立讯电子有限公司（粤桂劳务协作）",
        COUNTY,  # recruited through the county's labour cooperation office
        WorkRegion.out_of_province,
        (4800, 6500),
        60,
        JobSource.labour_cooperation,
        ("电子装配", "普工"),
        "18至45周岁，包吃住，县人社局统一组织乘车",
    ),
    DemoJob(
        "shenzhen-delivery",
        "快递分拣配送员",
        "深圳市顺达物流有限公司（粤桂劳务协作）",
        COUNTY,
        WorkRegion.out_of_province,
        (5500, 8000),
        20,
        JobSource.labour_cooperation,
        ("快递配送", "驾驶员"),
        "有电动车或驾驶证优先",
        heavy_labour=True,
    ),
    DemoJob(
        "liuzhou-auto",
        "汽车零部件焊工",
        "柳州五菱汽车零部件有限公司",
        LIUZHOU,
        WorkRegion.in_province,
        (5000, 7000),
        15,
        JobSource.job_station,
        ("焊工",),
        "持焊工证，两班倒",
        heavy_labour=True,
    ),
    DemoJob(
        "liuzhou-builder",
        "建筑砌筑工",
        "柳州市城建工程有限公司",
        LIUZHOU,
        WorkRegion.in_province,
        (6000, 9000),
        30,
        JobSource.job_station,
        ("砌筑工", "建筑"),
        heavy_labour=True,
    ),
    DemoJob(
        "guyi-tea",
        "茶叶加工工",
        "三江县古宜镇侗乡茶叶帮扶车间",
        GUYI,
        WorkRegion.in_county,
        (2500, 3500),
        12,
        JobSource.assistance_workshop,
        ("茶叶加工", "普工"),
        "就近务工，可照顾家庭",
    ),
    DemoJob(
        "doujiang-embroidery",
        "侗绣手工艺人",
        "斗江镇侗绣帮扶车间",
        DOUJIANG,
        WorkRegion.in_county,
        (2000, 3200),
        10,
        JobSource.assistance_workshop,
        ("侗绣", "缝纫工"),
        "计件工资，可带回家做",
    ),
    DemoJob(
        "county-kitchen",
        "餐饮服务员",
        "三江县程阳桥景区餐饮有限公司",
        COUNTY,
        WorkRegion.in_county,
        (2800, 3800),
        8,
        JobSource.job_station,
        ("餐饮服务", "厨师"),
    ),
    DemoJob(
        "danzhou-cleaner",
        "村级保洁员（公益性岗位）",
        "丹洲镇人民政府",
        DANZHOU,
        WorkRegion.in_county,
        (1500, 1800),
        6,
        JobSource.public_welfare_post,
        ("保洁",),
        "优先安置弱劳动力、半劳动力",
    ),
)

DEMO_TRAININGS = (
    DemoTraining(
        "electrician",
        "低压电工实操培训",
        TrainingType.vocational,
        COUNTY,
        "三江县人力资源和社会保障局",
        "三江县职业技术学校实训楼",
        40,
        starts_in_days=7,
        days=5,
    ),
    DemoTraining(
        "housekeeping",
        "家政服务员培训",
        TrainingType.vocational,
        GUYI,
        "古宜镇就业服务站",
        "古宜镇综合文化站",
        30,
        starts_in_days=10,
        days=3,
    ),
    DemoTraining(
        "embroidery-business",
        "侗绣电商创业培训",
        TrainingType.entrepreneurship,
        DOUJIANG,
        "斗江镇人民政府",
        "斗江镇侗绣帮扶车间",
        20,
        starts_in_days=14,
        days=2,
    ),
    DemoTraining(
        "going-out",
        "外出务工引导性培训",
        TrainingType.orientation,
        DANZHOU,
        "丹洲镇就业服务站",
        "丹洲村委会会议室",
        60,
        starts_in_days=3,
        days=1,
    ),
)


def demo_id(kind: str, key: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{kind}:{key}")


async def seed_demo_catalogue(connection: AsyncConnection) -> tuple[int, int]:
    """Insert the demo jobs and trainings that are missing; answer how many of each were new."""
    first_day = today()
    jobs = [
        {
            "id": demo_id("job", job.key),
            "title": job.title,
            "employer": job.employer,
            "region_code": job.region_code,
            "location_type": job.location_type.value,
            "wage_min": job.wage[0],
            "wage_max": job.wage[1],
            "headcount": job.headcount,
            "requirements": job.requirements,
            "skills": list(job.skills),
            "source": job.source.value,
            "valid_until": first_day + timedelta(days=JOB_VALID_DAYS),
            "heavy_labour": job.heavy_labour,
        }
        for job in DEMO_JOBS
    ]
    new_jobs = await connection.execute(
        insert(Job).values(jobs).on_conflict_do_nothing(index_elements=["id"]).returning(Job.id)
    )
    trainings, sessions = [], []
    for training in DEMO_TRAININGS:
        training_id = demo_id("training", training.key)
        start = first_day + timedelta(days=training.starts_in_days)
        days = [start + timedelta(days=n) for n in range(training.days)]
        spans = [
            (datetime.combine(day, time(9), SHANGHAI), datetime.combine(day, time(17), SHANGHAI))
            for day in days
        ]
        trainings.append(
            {
                "id": training_id,
                "title": training.title,
                "type": training.type.value,
                "region_code": training.region_code,
                "organizer": training.organizer,
                "location": training.location,
                "capacity": training.capacity,
                "starts_at": spans[0][0],
                "ends_at": spans[-1][1],
            }
        )
        sessions += [
            {
                "id": demo_id("training-session", f"{training.key}:{n}"),
                "training_id": training_id,
                "starts_at": start,
                "ends_at": end,
            }
            for n, (start, end) in enumerate(spans)
        ]
    new_trainings = await connection.execute(
        insert(Training)
        .values(trainings)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(Training.id)
    )
    new_training_ids = set(new_trainings.scalars())
    # Sessions only for trainings inserted now: an existing one keeps the sittings it has.
    new_sessions = [s for s in sessions if s["training_id"] in new_training_ids]
    if new_sessions:
        await connection.execute(insert(TrainingSession).values(new_sessions))
    return len(new_jobs.all()), len(new_training_ids)
