"""Rules of job pushes (岗位推送) and the weights that rank jobs for a labourer.

Yunnan's rule: every labourer with an intent to work gets **at least 3 rounds of pushes, each of
at least 5 jobs**. How pushes fall into rounds is decided here, in one place:

- a labourer's pushes are numbered in rounds 1, 2, 3, …;
- a round is *full* once it holds `MIN_JOBS_PER_ROUND` jobs;
- a new push joins the labourer's latest round while that round holds fewer than
  `MIN_JOBS_PER_ROUND` jobs, and otherwise opens the next round;
- a labourer *meets the policy* with at least `MIN_PUSH_ROUNDS` full rounds.

Only labourers whose intent is 外出 or 就近 are held to it (`PUSH_INTENTS`).
"""

from __future__ import annotations

from app.policy.values import Channel, Intent, JobSource, WorkRegion

MIN_PUSH_ROUNDS = 3
MIN_JOBS_PER_ROUND = 5
PUSH_INTENTS: frozenset[Intent] = frozenset({Intent.go_out, Intent.nearby})

# Matching (`app/jobs/matching.py`): a job's score is the sum of the weights that apply.
# Where the job is, against where the labourer wants to work.
WEIGHT_LOCATION_PREFERRED = 40  # 外出 → 省外/省内县外; 就近 → 县内
WEIGHT_SAME_TOWNSHIP = 15  # 就近: the job is in the labourer's own township
WEIGHT_SAME_COUNTY = 10  # 就近: the job is in the labourer's own county (not township)
# Per skill (or wanted job type) the job asks for that the labourer has, up to the cap.
WEIGHT_SKILL_MATCH = 12
MAX_SKILL_MATCHES = 3
# Wage: one point per `WAGE_STEP` yuan of monthly wage_max, at most `WEIGHT_WAGE_CAP`.
WAGE_STEP = 1000
WEIGHT_WAGE_CAP = 10
# A job already pushed to the labourer is not excluded (a coordinator may want to follow it
# up) but ranks well below fresh ones.
PENALTY_ALREADY_PUSHED = 50


def hire_channel(source: JobSource, location: WorkRegion) -> Channel:
    """The employment channel (就业渠道) recorded when a pushed job ends in a hire: welfare posts
    and workshops are their own channels; other work outside the county is 外出务工, and other
    work inside it 灵活就业."""
    if source is JobSource.public_welfare_post:
        return Channel.public_welfare_post
    if source is JobSource.assistance_workshop:
        return Channel.assistance_workshop
    if location is WorkRegion.in_county:
        return Channel.flexible
    return Channel.migrant
