"""The statements that apply a batch of feed records (`app.feed.apply`), each set-based over
the batch's staging table `feed_stage`.

Rows of the registry are looked up by key (LATERAL, by unique index), never by joining two
relations of unknown size: the planner cannot know how many rows a batch holds. Every upsert
writes only a row that differs from the one stored (`IS DISTINCT FROM`), so a batch read
again writes nothing and audits nothing.
"""

from __future__ import annotations

CREATE_STAGE = """
CREATE TEMP TABLE feed_stage (
    line int NOT NULL,
    household_no text NOT NULL,
    village_code text NOT NULL,
    category text NOT NULL,
    monitor_type text,
    risk_types text[] NOT NULL,
    risk_eliminated boolean NOT NULL,
    relocated boolean NOT NULL,
    income_per_capita numeric(12, 2),
    member_no text NOT NULL,
    name text NOT NULL,
    id_number_cipher bytea NOT NULL,
    id_number_index bytea NOT NULL,
    id_number_valid boolean NOT NULL,
    id_number_masked text NOT NULL,
    phone_cipher bytea,
    phone_index bytea,
    relation text NOT NULL,
    labour_type text NOT NULL,
    period text,
    status text,
    work_region text,
    channel text,
    employer text,
    months smallint,
    income numeric(12, 2),
    observed_at timestamptz,
    deleted boolean NOT NULL,
    problem text
) ON COMMIT DROP
"""

STAGE_COLUMNS = (
    "line", "household_no", "village_code", "category", "monitor_type", "risk_types",
    "risk_eliminated", "relocated", "income_per_capita", "member_no", "name",
    "id_number_cipher", "id_number_index", "id_number_valid", "id_number_masked",
    "phone_cipher", "phone_index", "relation", "labour_type", "period", "status",
    "work_region", "channel", "employer", "months", "income", "observed_at", "deleted",
)  # fmt: skip

# What makes a record unfit to apply, first reason first ($1/$2: the scope as lowest and
# highest division codes). An ID number another member holds is taken by nobody new: the
# member who holds it in the registry keeps it; two new claimants in one batch both wait.
MARK_PROBLEMS = """
WITH claimed_twice AS (
    -- ID numbers two members of this batch claim (hashed once, not looked up per row).
    SELECT t.id_number_index FROM feed_stage AS t
    GROUP BY t.id_number_index HAVING count(DISTINCT t.member_no) > 1
),
marked AS (
UPDATE feed_stage AS s SET problem = CASE
    WHEN NOT EXISTS (
        SELECT 1 FROM region AS r WHERE r.code = s.village_code AND r.level = 'village'
    ) THEN 'unknown_village'
    WHEN NOT EXISTS (
        SELECT 1 FROM unnest($1::text[], $2::text[]) AS q(low, high)
        WHERE s.village_code BETWEEN q.low AND q.high
    ) OR NOT EXISTS (
        SELECT 1 FROM unnest($1::text[], $2::text[]) AS q(low, high)
        WHERE coalesce((
            SELECT h.village_code FROM member AS m JOIN household AS h ON h.id = m.household_id
            WHERE m.member_no = s.member_no
        ), (SELECT h.village_code FROM household AS h WHERE h.household_no = s.household_no),
        s.village_code) BETWEEN q.low AND q.high
    ) THEN 'out_of_scope'
    WHEN NOT s.id_number_valid THEN 'id_number_invalid'
    WHEN EXISTS (
        SELECT 1 FROM member AS m
        WHERE m.id_number_index = s.id_number_index AND m.member_no <> s.member_no
    ) OR (
        s.id_number_index IN (SELECT c.id_number_index FROM claimed_twice AS c)
        AND NOT EXISTS (
            SELECT 1 FROM member AS m
            WHERE m.id_number_index = s.id_number_index AND m.member_no = s.member_no
        )
    ) THEN 'id_number_shared'
END
WHERE s.problem IS NULL
RETURNING s.line, s.member_no, s.problem
)
SELECT * FROM marked WHERE problem IS NOT NULL
"""

# A feed member whose ID number fails its check, or that another member holds: an item for a
# township or county user, updated while it stays open. ($1: the run's label for `theirs`.)
RECORD_ID_CONFLICTS = """
INSERT INTO feed_conflict AS c (id, kind, member_no, member_id, village_code, theirs)
SELECT DISTINCT ON (s.member_no, s.problem) gen_random_uuid(), s.problem, s.member_no,
    (SELECT m.id FROM member AS m WHERE m.member_no = s.member_no), s.village_code,
    jsonb_build_object(
        'member_no', s.member_no, 'household_no', s.household_no, 'name', s.name,
        'id_number', s.id_number_masked, 'village_code', s.village_code,
        'observed_at', s.observed_at, 'source', 'feed',
        'shared_with', CASE WHEN s.problem = 'id_number_shared' THEN to_jsonb(ARRAY(
            SELECT m.member_no FROM member AS m
            WHERE m.id_number_index = s.id_number_index AND m.member_no <> s.member_no
            UNION
            SELECT t.member_no FROM feed_stage AS t
            WHERE t.id_number_index = s.id_number_index AND t.member_no <> s.member_no
            ORDER BY 1
        )) END
    )
FROM feed_stage AS s
WHERE s.problem IN ('id_number_invalid', 'id_number_shared')
ORDER BY s.member_no, s.problem, s.line DESC
ON CONFLICT (kind, member_no, (coalesce(period, ''))) WHERE status = 'open'
DO UPDATE SET theirs = excluded.theirs, village_code = excluded.village_code, updated_at = now()
WHERE c.theirs - 'observed_at' IS DISTINCT FROM excluded.theirs - 'observed_at'
"""

# Households: the last record of each wins. Answers each household written, whether new, and
# what changed (read from the statement's snapshot: the row as it stood).
_HOUSEHOLD_FIELDS = """jsonb_build_object(
    'village_code', <r>.village_code, 'category', <r>.category,
    'monitor_type', <r>.monitor_type, 'risk_types', to_jsonb(<r>.risk_types),
    'risk_eliminated', <r>.risk_eliminated, 'relocated', <r>.relocated,
    'income_per_capita', <r>.income_per_capita::numeric(12, 2)::text)"""

UPSERT_HOUSEHOLDS = f"""
WITH incoming AS (
    SELECT DISTINCT ON (s.household_no) s.*
    FROM feed_stage AS s WHERE s.problem IS NULL
    ORDER BY s.household_no, s.line DESC
),
written AS (
    INSERT INTO household AS h (
        id, household_no, village_code, category, monitor_type, risk_types, risk_eliminated,
        relocated, income_per_capita
    )
    SELECT gen_random_uuid(), i.household_no, i.village_code, i.category, i.monitor_type,
        i.risk_types, i.risk_eliminated, i.relocated, i.income_per_capita
    FROM incoming AS i
    ORDER BY i.household_no
    ON CONFLICT (household_no) DO UPDATE SET
        village_code = excluded.village_code, category = excluded.category,
        monitor_type = excluded.monitor_type, risk_types = excluded.risk_types,
        risk_eliminated = excluded.risk_eliminated, relocated = excluded.relocated,
        income_per_capita = excluded.income_per_capita, version = h.version + 1,
        updated_at = now()
    WHERE (h.village_code, h.category, h.monitor_type, h.risk_types, h.risk_eliminated,
            h.relocated, h.income_per_capita)
        IS DISTINCT FROM (excluded.village_code, excluded.category, excluded.monitor_type,
            excluded.risk_types, excluded.risk_eliminated, excluded.relocated,
            excluded.income_per_capita)
    RETURNING h.*
)
INSERT INTO audit_event (
    actor_id, actor_role, action, entity, entity_id, region_code, changed_fields, changes,
    request_id
)
SELECT $1::uuid, $2, CASE WHEN o.id IS NULL THEN 'create' ELSE 'update' END, 'household', w.id,
    w.village_code, coalesce(c.fields, '{{}}'), c.changes, $3
FROM written AS w
LEFT JOIN LATERAL (SELECT * FROM household AS o WHERE o.id = w.id) AS o ON true
CROSS JOIN LATERAL (
    SELECT coalesce(jsonb_object_agg(
        n.key, jsonb_build_object('old', old.fields -> n.key, 'new', n.value)
    ), '{{}}') AS changes,
        array_agg(n.key ORDER BY n.key COLLATE "C") AS fields
    FROM (SELECT CASE WHEN o.id IS NOT NULL THEN {_HOUSEHOLD_FIELDS.replace("<r>", "o")} END
        AS fields) AS old,
        jsonb_each({_HOUSEHOLD_FIELDS.replace("<r>", "w")}) AS n
    WHERE CASE WHEN old.fields IS NULL THEN n.value <> 'null'
        ELSE old.fields -> n.key IS DISTINCT FROM n.value END
) AS c
RETURNING entity_id, action
"""  # noqa: S608

# Members: the last record of each wins; a deleted one leaves softly (kept, marked), one the
# registry never held is not created; personal fields are compared by their blind index and
# only named in the audit row. Answers each member written: new, deleted, or changed.
UPSERT_MEMBERS = """
WITH incoming AS (
    SELECT DISTINCT ON (s.member_no) s.*,
        (SELECT h.id FROM household AS h WHERE h.household_no = s.household_no) AS household_id
    FROM feed_stage AS s WHERE s.problem IS NULL
    ORDER BY s.member_no, s.line DESC
),
written AS (
    INSERT INTO member AS m (
        id, household_id, member_no, name, id_number_cipher, id_number_index, phone_cipher,
        phone_index, relation, labour_type, deleted_at
    )
    SELECT gen_random_uuid(), i.household_id, i.member_no, i.name, i.id_number_cipher,
        i.id_number_index, i.phone_cipher, i.phone_index, i.relation, i.labour_type,
        CASE WHEN i.deleted THEN now() END
    FROM incoming AS i
    WHERE NOT i.deleted OR EXISTS (SELECT 1 FROM member AS p WHERE p.member_no = i.member_no)
    ORDER BY i.member_no
    ON CONFLICT (member_no) DO UPDATE SET
        household_id = excluded.household_id, name = excluded.name,
        id_number_cipher = CASE WHEN m.id_number_index = excluded.id_number_index
            THEN m.id_number_cipher ELSE excluded.id_number_cipher END,
        id_number_index = excluded.id_number_index,
        phone_cipher = CASE WHEN m.phone_index IS NOT DISTINCT FROM excluded.phone_index
            THEN m.phone_cipher ELSE excluded.phone_cipher END,
        phone_index = excluded.phone_index, relation = excluded.relation,
        labour_type = excluded.labour_type,
        deleted_at = CASE WHEN excluded.deleted_at IS NULL THEN NULL
            ELSE coalesce(m.deleted_at, excluded.deleted_at) END,
        version = m.version + 1, updated_at = now()
    WHERE (m.household_id, m.name, m.id_number_index, m.phone_index, m.relation,
            m.labour_type, m.deleted_at IS NULL)
        IS DISTINCT FROM (excluded.household_id, excluded.name, excluded.id_number_index,
            excluded.phone_index, excluded.relation, excluded.labour_type,
            excluded.deleted_at IS NULL)
    RETURNING m.*
),
described AS (
    SELECT w.*, o.id IS NULL AS is_new,
        to_jsonb(o) - 'id_number_cipher' - 'id_number_index' - 'phone_cipher' - 'phone_index'
            AS old_fields,
        to_jsonb(w) AS new_fields,
        o.id IS NOT NULL AND o.deleted_at IS NULL AND w.deleted_at IS NOT NULL AS is_deleted,
        array_remove(ARRAY[
            CASE WHEN o.household_id IS DISTINCT FROM w.household_id THEN 'household_id' END,
            CASE WHEN o.name IS DISTINCT FROM w.name THEN 'name' END,
            CASE WHEN o.id_number_index IS DISTINCT FROM w.id_number_index THEN 'id_number' END,
            CASE WHEN o.phone_index IS DISTINCT FROM w.phone_index THEN 'phone' END,
            CASE WHEN o.relation IS DISTINCT FROM w.relation THEN 'relation' END,
            CASE WHEN o.labour_type IS DISTINCT FROM w.labour_type THEN 'labour_type' END,
            CASE WHEN (o.deleted_at IS NULL) IS DISTINCT FROM (w.deleted_at IS NULL)
                THEN 'deleted_at' END
        ], NULL) AS fields,
        (SELECT h.village_code FROM household AS h WHERE h.id = w.household_id) AS village_code
    FROM written AS w
    LEFT JOIN LATERAL (SELECT * FROM member AS o WHERE o.id = w.id) AS o ON true
),
audited AS (
    INSERT INTO audit_event (
        actor_id, actor_role, action, entity, entity_id, region_code, changed_fields,
        changes, request_id
    )
    SELECT $1::uuid, $2,
        CASE WHEN d.is_new THEN 'create' WHEN d.is_deleted THEN 'delete' ELSE 'update' END,
        'member', d.id, d.village_code,
        ARRAY(SELECT f FROM unnest(d.fields) AS f ORDER BY f COLLATE "C"),
        -- Personal fields are named, never written out.
        coalesce((
            SELECT jsonb_object_agg(
                f, jsonb_build_object('old', d.old_fields -> f, 'new', d.new_fields -> f)
            )
            FROM unnest(d.fields) AS f
            WHERE f NOT IN ('id_number', 'phone')
        ), '{}'), $3
    FROM described AS d
)
SELECT d.member_no, d.is_new, d.is_deleted FROM described AS d
"""

# The records' months, set against ours: where a coordinator's observation (a visit, a typed
# value) and the feed differ, an open item holds both, unless a user already resolved the
# same disagreement; our working copy takes the feed's value where the county's precedence
# rule says so (<takes_theirs>). The rest go to the member writer's staging table
# (`feed_employment`). ($1, $2, $3, $4: the actor's id, role, request id, address.)
STAGE_EMPLOYMENT = """
WITH incoming AS (
    SELECT DISTINCT ON (s.member_no, s.period) s.*,
        (SELECT p.id FROM member AS p WHERE p.member_no = s.member_no) AS member_id
    FROM feed_stage AS s
    WHERE s.problem IS NULL AND NOT s.deleted AND s.status IS NOT NULL
    ORDER BY s.member_no, s.period, s.line DESC
),
compared AS (
    SELECT i.*, o.status AS our_status, o.work_region AS our_region,
        o.channel AS our_channel, o.employer AS our_employer, o.months AS our_months,
        o.income AS our_income, o.source AS our_source, o.observed_at AS our_observed_at,
        (
            SELECT f.precedence FROM feed_setting AS f
            WHERE f.county_code = rpad(left(i.village_code, 6), 12, '0')
        ) AS precedence,
        o.member_id IS NOT NULL AND o.source <> 'feed'
            AND (o.status, o.work_region, o.channel, o.employer, o.months, o.income)
            IS DISTINCT FROM (i.status, i.work_region, i.channel, i.employer, i.months, i.income)
            AS disagrees
    FROM incoming AS i
    LEFT JOIN LATERAL (
        SELECT * FROM member_employment AS o
        WHERE o.member_id = i.member_id AND o.period = i.period
    ) AS o ON true
),
described AS (
    SELECT c.*,
        jsonb_build_object(
            'status', c.status, 'region', c.work_region, 'channel', c.channel,
            'employer', c.employer, 'months', c.months, 'income', c.income::text,
            'source', 'feed', 'observed_at', c.observed_at
        ) AS theirs,
        jsonb_build_object(
            'status', c.our_status, 'region', c.our_region, 'channel', c.our_channel,
            'employer', c.our_employer, 'months', c.our_months, 'income', c.our_income::text,
            'source', c.our_source, 'observed_at', c.our_observed_at
        ) AS ours
    FROM compared AS c
),
recorded AS (
    INSERT INTO feed_conflict AS k (
        id, kind, member_no, member_id, village_code, period, ours, theirs
    )
    SELECT gen_random_uuid(), 'employment', d.member_no, d.member_id, d.village_code,
        d.period, d.ours, d.theirs
    FROM described AS d
    WHERE d.disagrees AND NOT EXISTS (
        SELECT 1 FROM feed_conflict AS r
        WHERE r.kind = 'employment' AND r.member_no = d.member_no AND r.period = d.period
            AND r.status = 'resolved'
            AND r.theirs - 'observed_at' = d.theirs - 'observed_at'
    )
    ORDER BY d.member_no, d.period
    ON CONFLICT (kind, member_no, (coalesce(period, ''))) WHERE status = 'open'
    DO UPDATE SET ours = excluded.ours, theirs = excluded.theirs, updated_at = now()
    WHERE (k.ours - 'observed_at', k.theirs - 'observed_at')
        IS DISTINCT FROM (excluded.ours - 'observed_at', excluded.theirs - 'observed_at')
)
INSERT INTO feed_employment
SELECT d.member_id, d.period, d.status, d.work_region, d.channel, d.employer, d.months,
    d.income, false, 'feed', d.observed_at, $1::uuid, $2, $3, $4
FROM described AS d
WHERE NOT d.disagrees OR <takes_theirs>
ORDER BY d.line
"""

# Which records' months the writer wrote in this transaction (it stamps `updated_at` with the
# transaction's time).
EMPLOYMENT_WRITTEN = """
SELECT DISTINCT p.member_no
FROM feed_employment AS f
JOIN member_employment AS me ON me.member_id = f.member_id AND me.period = f.period
JOIN member AS p ON p.id = f.member_id
WHERE me.updated_at = now()
"""

MEMBERS_OF_HOUSEHOLDS = """
SELECT DISTINCT s.member_no FROM feed_stage AS s
WHERE s.problem IS NULL AND s.household_no IN (
    SELECT h.household_no FROM household AS h WHERE h.id = ANY($1::uuid[])
)
"""
