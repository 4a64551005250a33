"""The statements of the member writer (`app.households.writer`), one per row kind.

Each is a chain of common table expressions, every name in it starting with a prefix (`<p>`)
so that two chains can stand in one statement: it reads its input from `<p>sent` (the kind's
composite type and `ordinality`, the rows' order), which the writer puts in front (the rows
as a parameter, or a staging table, or the findings of a visit batch), and defines
`<p>pending`: the input rows it did not write, met inserted by another transaction after its
snapshot (see the writer).

No two of a chain's relations are joined: the planner cannot know how many rows a batch
holds and would join them in nested loops, quadratic in the batch. Rows replaced are looked
up by key, and membership is tested with `IN`/`NOT IN` lists, which are hashed once.
"""

from __future__ import annotations

from app.alerts.history import HISTORY_MONTHS

# What `str.strip()` removes: every character for which `str.isspace()` holds.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WHITESPACE_LITERAL = "U&'" + "".join(f"\\{ord(c):04X}" for c in WHITESPACE) + "'"


def _fill(template: str, **parts: str) -> str:
    for name, part in parts.items():
        template = template.replace(f"<{name}>", part)
    return template


# A row as it stands already (`v`: the merged row, `v.old` its audited fields as stored) is not
# written and not audited: every audited field is equal, and the row brings no time of its own
# or the one stored. (A feed re-read, an import of the same file, the same PUT twice.)
_UNCHANGED = """(v.old IS NOT NULL AND v.old = <new_fields>
        AND (v.given_at IS NULL OR v.given_at = v.old_observed_at))"""

# The audit row of each row written with a changed value (its merged values `m`: every row
# but those left pending), in the village the member lives in, shaped as
# `app.audit.service.record` shapes them: `changes` maps a field to its old and new value; a
# new row lists every field that has a value, a replaced row the fields that changed;
# `changed_fields` is sorted. <new_fields> builds the audited fields of a row, the same for
# the old row (`m.old`, NULL for a new one).
_AUDITED = """<p>audited AS (
    INSERT INTO audit_event (
        actor_id, actor_role, action, entity, entity_id, region_code, changed_fields,
        changes, request_id, client_address
    )
    SELECT m.actor_id, m.actor_role, CASE WHEN m.old IS NULL THEN 'create' ELSE 'update' END,
        '<entity>', m.member_id, h.village_code,
        coalesce(c.fields, '{}'), c.changes, m.request_id, m.client_address
    FROM <p>merged AS m
    JOIN member AS p ON p.id = m.member_id
    JOIN household AS h ON h.id = p.household_id
    -- The changes and their sorted names in one pass over the fields: half the cost of
    -- reading the names back out of the changes.
    CROSS JOIN LATERAL (
        SELECT coalesce(jsonb_object_agg(
            n.key, jsonb_build_object('old', m.old -> n.key, 'new', n.value)
        ), '{}') AS changes,
            array_agg(n.key ORDER BY n.key COLLATE "C") AS fields
        FROM jsonb_each(<new_fields>) AS n
        WHERE CASE WHEN m.old IS NULL THEN n.value <> 'null'
            ELSE m.old -> n.key IS DISTINCT FROM n.value END
    ) AS c
    -- A newer observation of the same values moves `observed_at` only: nothing to audit.
    WHERE NOT m.unchanged AND (m.old IS NULL OR c.changes <> '{}')
        AND <key_m> NOT IN (SELECT <key_x> FROM <p>pending AS x)
)"""

# Money as a string with two decimals, as `record` gives a Decimal; `observed_at` and
# `updated_at` are not audited. A month's fields name its period, so a new month names it.
_EMPLOYMENT_FIELDS = """jsonb_build_object(
            'period', <row>.period, 'status', <row>.status, 'work_region', <row>.work_region,
            'channel', <row>.channel, 'employer', <row>.employer, 'months', <row>.months,
            'income', <row>.income::numeric(12, 2)::text, 'source', <row>.source
        )"""

EMPLOYMENT = """
-- A month given twice: the later row wins, as if written one after the other.
<p>incoming AS (
    SELECT DISTINCT ON (s.member_id, s.period) s.*
    FROM <p>sent AS s
    ORDER BY s.member_id, s.period, s.ordinality DESC
),
<p>merged AS (
    SELECT v.*, <unchanged> AS unchanged FROM (
    SELECT i.member_id, i.period, i.status, i.work_region, i.channel, i.employer,
        -- A hire keeps the months and income already recorded for the month.
        CASE WHEN i.keeps_months_and_income AND o.member_id IS NOT NULL THEN o.months
            ELSE coalesce(i.months, 0) END AS months,
        CASE WHEN i.keeps_months_and_income AND o.member_id IS NOT NULL THEN o.income
            ELSE i.income END AS income,
        i.source, coalesce(i.observed_at, now()) AS observed_at,
        i.actor_id, i.actor_role, i.request_id, i.client_address,
        CASE WHEN o.member_id IS NOT NULL THEN <old_fields> END AS old,
        i.observed_at AS given_at, o.observed_at AS old_observed_at
    FROM <p>incoming AS i
    -- The row replaced, locked and read as it stands, each in turn as `incoming` holds them:
    -- in key order, so two batches never deadlock. Looked up by key, never joined: the
    -- planner cannot know how many rows a batch has.
    LEFT JOIN LATERAL (
        SELECT o.* FROM member_employment AS o
        WHERE o.member_id = i.member_id AND o.period = i.period
        FOR UPDATE
    ) AS o ON true
    ) AS v
),
<p>written AS (
    INSERT INTO member_employment AS me (
        member_id, period, status, work_region, channel, employer, months, income, source,
        observed_at, updated_at
    )
    SELECT m.member_id, m.period, m.status, m.work_region, m.channel, m.employer, m.months,
        m.income, m.source, m.observed_at, now()
    FROM <p>merged AS m
    WHERE NOT m.unchanged
    ORDER BY m.member_id, m.period
    ON CONFLICT (member_id, period) DO UPDATE SET
        status = excluded.status, work_region = excluded.work_region,
        channel = excluded.channel, employer = excluded.employer, months = excluded.months,
        income = excluded.income, source = excluded.source,
        observed_at = excluded.observed_at, updated_at = excluded.updated_at
    -- Only a row read above. One another transaction inserted after this statement's
    -- snapshot is locked here but not written (what it replaces is unknown): answered below.
    -- (`IN`, `NOT IN` of a list: hashed once, whatever the batch's size.)
    WHERE (me.member_id, me.period) IN (
        SELECT m.member_id, m.period FROM <p>merged AS m WHERE m.old IS NOT NULL
    )
    RETURNING me.member_id, me.period
),
-- Each member's months written, folded into its one-row history (`app.alerts.history`). A
-- row left unchanged is not written and changes nothing here; the cost is the written rows'
-- and the window's (36 months), never the member's whole history.
<p>history_months AS (
    SELECT m.member_id, <history_months>
    FROM <p>merged AS m
    WHERE NOT m.unchanged
        AND (m.member_id, m.period) IN (SELECT w.member_id, w.period FROM <p>written AS w)
    GROUP BY m.member_id
    ORDER BY m.member_id
),
-- A member with a history: its row updated in place, in key order, looked up by key. Its
-- latest version: a row another transaction updated since this statement's snapshot is
-- waited for and read again, so that two batches writing other months of one member both
-- land.
<p>history_kept AS (
    UPDATE member_employment_history AS h SET (
        base, recorded, working, away, flexible, farming, changed, employers, ytd
    ) = (
        SELECT n.base, n.recorded, n.working, n.away, n.flexible, n.farming, n.changed,
            n.employers, n.ytd
        FROM employment_history_overlay(
            h, g.member_id, g.months, g.working, g.away, g.flexible, g.farming, g.employers,
            g.incomes
        ) AS n
    )
    FROM <p>history_months AS g
    WHERE h.member_id = g.member_id
    RETURNING h.member_id
),
-- A member without one: a new row; one another transaction inserted since the snapshot is
-- folded into (its latest version).
<p>history AS (
    INSERT INTO member_employment_history AS h
    SELECT n.*
    FROM <p>history_months AS g
    CROSS JOIN LATERAL employment_history_overlay(
        NULL, g.member_id, g.months, g.working, g.away, g.flexible, g.farming, g.employers,
        g.incomes
    ) AS n
    WHERE g.member_id NOT IN (SELECT k.member_id FROM <p>history_kept AS k)
    ORDER BY g.member_id
    ON CONFLICT (member_id) DO UPDATE SET (
        base, recorded, working, away, flexible, farming, changed, employers, ytd
    ) = (
        SELECT n.base, n.recorded, n.working, n.away, n.flexible, n.farming, n.changed,
            n.employers, n.ytd
        FROM employment_history_combine(h, excluded) AS n
    )
),
-- The input rows not written (met inserted by another transaction), as input rows again.
<p>pending AS (
    SELECT i.member_id, i.period, i.status, i.work_region, i.channel, i.employer, i.months,
        i.income, i.keeps_months_and_income, i.source, i.observed_at, i.actor_id,
        i.actor_role, i.request_id, i.client_address
    FROM <p>incoming AS i
    WHERE (i.member_id, i.period) NOT IN (SELECT w.member_id, w.period FROM <p>written AS w)
        AND (i.member_id, i.period) NOT IN (
            SELECT u.member_id, u.period FROM <p>merged AS u WHERE u.unchanged
        )
),
<audited>"""
EMPLOYMENT = _fill(
    EMPLOYMENT,
    unchanged=_fill(_UNCHANGED, new_fields=_fill(_EMPLOYMENT_FIELDS, row="v")),
    old_fields=_fill(_EMPLOYMENT_FIELDS, row="o"),
    history_months=HISTORY_MONTHS.replace("<row>", "m"),
    audited=_fill(
        _AUDITED,
        entity="member_employment",
        key_m="(m.member_id, m.period)",
        key_x="x.member_id, x.period",
        new_fields=_fill(_EMPLOYMENT_FIELDS, row="m"),
    ),
)

_INTENT_FIELDS = """jsonb_build_object(
            'intent', <row>.intent, 'reason', <row>.reason,
            'training_needs', to_jsonb(<row>.training_needs),
            'wanted_job_types', to_jsonb(<row>.wanted_job_types), 'source', <row>.source
        )"""

INTENT = """
-- A member given twice: the later row wins.
<p>incoming AS (
    SELECT DISTINCT ON (s.member_id) s.*
    FROM <p>sent AS s
    ORDER BY s.member_id, s.ordinality DESC
),
<p>merged AS (
    SELECT v.*, <unchanged> AS unchanged FROM (
    SELECT i.member_id, i.intent,
        -- Trimmed as Python trims (full-width spaces, tabs…); nothing left is no reason.
        nullif(btrim(i.reason, <whitespace>), '') AS reason,
        coalesce(i.training_needs, '{}') AS training_needs,
        coalesce(i.wanted_job_types, '{}') AS wanted_job_types,
        i.source, coalesce(i.observed_at, now()) AS observed_at,
        i.actor_id, i.actor_role, i.request_id, i.client_address,
        CASE WHEN o.member_id IS NOT NULL THEN <old_fields> END AS old,
        i.observed_at AS given_at, o.observed_at AS old_observed_at
    FROM <p>incoming AS i
    -- As for employment: locked in key order, looked up by key.
    LEFT JOIN LATERAL (
        SELECT o.* FROM member_intent AS o WHERE o.member_id = i.member_id FOR UPDATE
    ) AS o ON true
    ) AS v
),
<p>written AS (
    INSERT INTO member_intent AS mi (
        member_id, intent, reason, training_needs, wanted_job_types, source, observed_at,
        updated_at
    )
    SELECT m.member_id, m.intent, m.reason, m.training_needs, m.wanted_job_types, m.source,
        m.observed_at, now()
    FROM <p>merged AS m
    WHERE NOT m.unchanged
    ORDER BY m.member_id
    ON CONFLICT (member_id) DO UPDATE SET
        intent = excluded.intent, reason = excluded.reason,
        training_needs = excluded.training_needs,
        wanted_job_types = excluded.wanted_job_types, source = excluded.source,
        observed_at = excluded.observed_at, updated_at = excluded.updated_at
    -- As for employment: a row inserted since the snapshot is locked, not written.
    WHERE mi.member_id IN (SELECT m.member_id FROM <p>merged AS m WHERE m.old IS NOT NULL)
    RETURNING mi.member_id
),
<p>pending AS (
    SELECT i.member_id, i.intent, i.reason, i.training_needs, i.wanted_job_types, i.source,
        i.observed_at, i.actor_id, i.actor_role, i.request_id, i.client_address
    FROM <p>incoming AS i
    WHERE i.member_id NOT IN (SELECT w.member_id FROM <p>written AS w)
        AND i.member_id NOT IN (SELECT u.member_id FROM <p>merged AS u WHERE u.unchanged)
),
<audited>"""
INTENT = _fill(
    INTENT,
    unchanged=_fill(_UNCHANGED, new_fields=_fill(_INTENT_FIELDS, row="v")),
    whitespace=_WHITESPACE_LITERAL,
    old_fields=_fill(_INTENT_FIELDS, row="o"),
    audited=_fill(
        _AUDITED,
        entity="member_intent",
        key_m="m.member_id",
        key_x="x.member_id",
        new_fields=_fill(_INTENT_FIELDS, row="m"),
    ),
)
