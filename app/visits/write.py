"""Visits and everything they found, written by one SQL statement for a batch of uploads.

Phones upload visits in bursts when they come back online, so the write is one round trip
whatever the number of visits and member updates: per visit, the scope check, the member check,
the visit (idempotent on the phone's id), this month's employment and the intents (upserted, the
rows they replace read under lock first) and one audit row per change, all in one data-modifying
`WITH`. A single statement is atomic: it either writes all of that or, on any error, nothing;
`app.visits.writer` gives a failed batch's visits a statement each, so one bad upload never
fails another.

The visits of one batch are of different households (`writer` sees to it), so no row is
written twice by one statement. Rows are locked in key order, so two batches never deadlock.

The audit rows it writes have the shape `app.audit.service.record` gives: `changes` maps each
changed field to its old and new value (numbers of money as strings), `changed_fields` is sorted.
"""

from __future__ import annotations

# Parameters: $1 the visits, a JSON array of `{"meta": {…}, "body": <the visit as sent>}`; the
# meta holds what the server adds: the visiting account, the caller's scope as lists of lowest
# and highest division codes, the request hash, the month of the visit, the actor's role,
# request id and address. $2 the review distance in metres, $3 the source of the findings
# (`ObservationSource.visit`). One answer row per visit, in the order sent.
# The distance from the village centre is the haversine on a sphere of radius 6,371 km.
RECORD_VISITS = """
WITH sent AS (
    SELECT b.position, b.item -> 'body' AS body, m.*, v.*,
        (v.location ->> 'lat')::float8 AS lat, (v.location ->> 'lon')::float8 AS lon
    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b(item, position)
    CROSS JOIN LATERAL jsonb_to_record(b.item -> 'meta') AS m(
        coordinator_id uuid, lows text[], highs text[], request_hash text, period text,
        actor_role text, request_id text, client_address text
    )
    CROSS JOIN LATERAL jsonb_to_record(b.item -> 'body') AS v(
        id uuid, household_id uuid, visited_at timestamptz, method text, location jsonb,
        notes text
    )
),
target AS (
    SELECT s.position, h.id, h.village_code, r.centre_lat, r.centre_lon
    FROM sent AS s
    JOIN household AS h ON h.id = s.household_id
    LEFT JOIN region AS r ON r.code = h.village_code
    WHERE EXISTS (
        SELECT 1 FROM unnest(s.lows, s.highs) AS sc(low, high)
        WHERE h.village_code BETWEEN sc.low AND sc.high
    )
),
updates AS (
    SELECT s.position, u.value AS finding, (u.value ->> 'member_id')::uuid AS member_id,
        u.rank
    FROM sent AS s
    CROSS JOIN LATERAL jsonb_array_elements(s.body -> 'member_updates') WITH ORDINALITY
        AS u(value, rank)
),
strangers AS (
    SELECT u.position, array_agg(DISTINCT u.member_id) AS ids
    FROM updates AS u JOIN sent AS s ON s.position = u.position
    WHERE NOT EXISTS (
        SELECT 1 FROM member AS m WHERE m.id = u.member_id AND m.household_id = s.household_id
    )
    GROUP BY u.position
),
placed AS (
    SELECT t.position, t.id, t.village_code,
        CASE WHEN s.lat IS NOT NULL AND t.centre_lat IS NOT NULL THEN
            round(2 * 6371000 * asin(sqrt(
                sin(radians(t.centre_lat - s.lat) / 2) ^ 2
                + cos(radians(s.lat)) * cos(radians(t.centre_lat))
                  * sin(radians(t.centre_lon - s.lon) / 2) ^ 2
            )))::integer
        END AS distance_m
    FROM target AS t JOIN sent AS s ON s.position = t.position
    WHERE NOT EXISTS (SELECT 1 FROM strangers AS x WHERE x.position = t.position)
),
inserted AS (
    INSERT INTO visit (
        id, household_id, coordinator_id, village_code, visited_at, method, lat, lon,
        distance_m, needs_review, notes, request_hash
    )
    SELECT s.id, p.id, s.coordinator_id, p.village_code, s.visited_at, s.method, s.lat, s.lon,
        p.distance_m, coalesce(p.distance_m > $2::float8, false), s.notes, s.request_hash
    FROM placed AS p JOIN sent AS s ON s.position = p.position
    ORDER BY s.id
    ON CONFLICT (id) DO NOTHING
    RETURNING *
),
written AS (
    SELECT s.position, s.period, s.visited_at, s.coordinator_id, s.actor_role, s.request_id,
        s.client_address, i.id, i.household_id, i.village_code, i.method, i.needs_review
    FROM inserted AS i JOIN sent AS s ON s.id = i.id
),
-- A member named twice in a visit: the later update wins, as if typed in one after the other.
employment AS (
    SELECT DISTINCT ON (u.member_id) w.period, w.visited_at, w.village_code,
        w.coordinator_id, w.actor_role, w.request_id, w.client_address, u.member_id, e.status,
        e.region AS work_region, e.channel, e.employer, e.months, e.income,
        e.observed_at
    FROM updates AS u
    JOIN written AS w ON w.position = u.position
    CROSS JOIN LATERAL jsonb_to_record(u.finding -> 'employment') AS e(
        status text, region text, channel text, employer text, months smallint,
        income numeric, observed_at timestamptz
    )
    WHERE jsonb_typeof(u.finding -> 'employment') = 'object'
    ORDER BY u.member_id, u.rank DESC
),
intents AS (
    SELECT DISTINCT ON (u.member_id) w.visited_at, w.village_code, w.coordinator_id,
        w.actor_role, w.request_id, w.client_address, u.member_id, i.intent,
        nullif(btrim(i.reason), '') AS reason, i.training_needs, i.wanted_job_types
    FROM updates AS u
    JOIN written AS w ON w.position = u.position
    CROSS JOIN LATERAL jsonb_to_record(u.finding -> 'intent') AS i(
        intent text, reason text, training_needs text[], wanted_job_types text[]
    )
    WHERE jsonb_typeof(u.finding -> 'intent') = 'object'
    ORDER BY u.member_id, u.rank DESC
),
-- The rows the upserts replace, locked, as JSON keyed by member: looked up, not joined, as
-- the planner cannot know how many there are.
old_employment AS (
    SELECT coalesce(jsonb_object_agg(o.member_id::text, jsonb_build_object(
        'status', o.status, 'work_region', o.work_region, 'channel', o.channel,
        'employer', o.employer, 'months', o.months, 'income', o.income::text,
        'source', o.source
    )), '{}') AS rows
    FROM (
        SELECT o.* FROM member_employment AS o
        JOIN employment AS e ON e.member_id = o.member_id AND e.period = o.period
        ORDER BY o.member_id
        FOR UPDATE OF o
    ) AS o
),
old_intents AS (
    SELECT coalesce(jsonb_object_agg(o.member_id::text, jsonb_build_object(
        'intent', o.intent, 'reason', o.reason,
        'training_needs', to_jsonb(o.training_needs),
        'wanted_job_types', to_jsonb(o.wanted_job_types), 'source', o.source
    )), '{}') AS rows
    FROM (
        SELECT o.* FROM member_intent AS o
        JOIN intents AS i ON i.member_id = o.member_id
        ORDER BY o.member_id
        FOR UPDATE OF o
    ) AS o
),
-- The upserts read the locked rows first (the count), so the audit sees what they replace.
new_employment AS (
    INSERT INTO member_employment AS me (
        member_id, period, status, work_region, channel, employer, months, income, source,
        observed_at, updated_at
    )
    SELECT e.member_id, e.period, e.status, e.work_region, e.channel, e.employer,
        coalesce(e.months, 0), e.income, $3::text, coalesce(e.observed_at, e.visited_at),
        now()
    FROM employment AS e
    WHERE (SELECT rows FROM old_employment) IS NOT NULL
    ORDER BY e.member_id
    ON CONFLICT (member_id, period) DO UPDATE SET
        status = excluded.status, work_region = excluded.work_region,
        channel = excluded.channel, employer = excluded.employer, months = excluded.months,
        income = excluded.income, source = excluded.source,
        observed_at = excluded.observed_at, updated_at = excluded.updated_at
    RETURNING me.member_id, me.xmax = 0 AS inserted
),
new_intents AS (
    INSERT INTO member_intent AS mi (
        member_id, intent, reason, training_needs, wanted_job_types, source, observed_at,
        updated_at
    )
    SELECT i.member_id, i.intent, i.reason, coalesce(i.training_needs, '{}'),
        coalesce(i.wanted_job_types, '{}'), $3::text, i.visited_at, now()
    FROM intents AS i
    WHERE (SELECT rows FROM old_intents) IS NOT NULL
    ORDER BY i.member_id
    ON CONFLICT (member_id) DO UPDATE SET
        intent = excluded.intent, reason = excluded.reason,
        training_needs = excluded.training_needs,
        wanted_job_types = excluded.wanted_job_types, source = excluded.source,
        observed_at = excluded.observed_at, updated_at = excluded.updated_at
    RETURNING mi.member_id, mi.xmax = 0 AS inserted
),
-- Rows another transaction inserted after this statement's snapshot: the upsert updated them
-- though the audit has no old values. The statement then fails as a serialization failure
-- (`audit` below) and the writer runs it again, when those rows are visible.
raced AS (
    SELECT n.member_id FROM new_employment AS n CROSS JOIN old_employment AS o
    WHERE NOT n.inserted AND NOT o.rows ? n.member_id::text
    UNION ALL
    SELECT n.member_id FROM new_intents AS n CROSS JOIN old_intents AS o
    WHERE NOT n.inserted AND NOT o.rows ? n.member_id::text
),
findings AS (
    SELECT e.village_code, e.coordinator_id, e.actor_role, e.request_id, e.client_address,
        'member_employment' AS entity, e.member_id,
        jsonb_build_object(
            'status', e.status, 'work_region', e.work_region, 'channel', e.channel,
            'employer', e.employer, 'months', coalesce(e.months, 0),
            'income', e.income::numeric(12, 2)::text, 'source', $3::text
        ) AS new,
        o.rows -> e.member_id::text AS old,
        -- A new month's row names its month, as `households.employment.write_employment` does.
        CASE WHEN NOT o.rows ? e.member_id::text THEN jsonb_build_object(
            'period', jsonb_build_object('old', NULL, 'new', e.period)
        ) ELSE '{}'::jsonb END AS extra
    FROM employment AS e CROSS JOIN old_employment AS o
    UNION ALL
    SELECT i.village_code, i.coordinator_id, i.actor_role, i.request_id, i.client_address,
        'member_intent', i.member_id,
        jsonb_build_object(
            'intent', i.intent, 'reason', i.reason,
            'training_needs', to_jsonb(coalesce(i.training_needs, '{}')),
            'wanted_job_types', to_jsonb(coalesce(i.wanted_job_types, '{}')),
            'source', $3::text
        ),
        o.rows -> i.member_id::text,
        '{}'::jsonb
    FROM intents AS i CROSS JOIN old_intents AS o
),
changes AS (
    SELECT f.village_code, f.coordinator_id, f.actor_role, f.request_id, f.client_address,
        f.entity, f.member_id AS entity_id,
        CASE WHEN f.old IS NULL THEN 'create' ELSE 'update' END AS action,
        f.extra || coalesce((
            SELECT jsonb_object_agg(
                n.key, jsonb_build_object('old', f.old -> n.key, 'new', n.value)
            )
            FROM jsonb_each(f.new) AS n
            WHERE f.old IS NULL OR f.old -> n.key IS DISTINCT FROM n.value
        ), '{}'::jsonb) AS changes
    FROM findings AS f
    UNION ALL
    SELECT w.village_code, w.coordinator_id, w.actor_role, w.request_id, w.client_address,
        'visit', w.id, 'create', jsonb_build_object(
            'household_id', jsonb_build_object('old', NULL, 'new', w.household_id),
            'method', jsonb_build_object('old', NULL, 'new', w.method),
            'needs_review', jsonb_build_object('old', NULL, 'new', w.needs_review)
        )
    FROM written AS w
),
audit AS (
    INSERT INTO audit_event (
        actor_id, actor_role, action, entity, entity_id, region_code, changed_fields,
        changes, request_id, client_address
    )
    SELECT c.coordinator_id, c.actor_role, c.action, c.entity, c.entity_id, c.village_code,
        ARRAY(SELECT k FROM jsonb_object_keys(c.changes) AS k ORDER BY k COLLATE "C"),
        c.changes, c.request_id, c.client_address
    FROM changes AS c
    WHERE NOT EXISTS (SELECT 1 FROM raced)
        OR raise_serialization_failure('a member''s row was written concurrently; try again')
)
SELECT s.position, t.id IS NOT NULL AS household_found,
    coalesce(x.ids, '{}') AS strangers, v.*
FROM sent AS s
LEFT JOIN target AS t ON t.position = s.position
LEFT JOIN strangers AS x ON x.position = s.position
LEFT JOIN LATERAL (
    SELECT true AS created, i.id, i.household_id, i.coordinator_id, i.village_code,
        i.visited_at, i.method, i.lat, i.lon, i.distance_m, i.needs_review, i.notes,
        i.request_hash, i.created_at
    FROM inserted AS i
    WHERE i.id = s.id
    UNION ALL
    SELECT false, o.id, o.household_id, o.coordinator_id, o.village_code, o.visited_at,
        o.method, o.lat, o.lon, o.distance_m, o.needs_review, o.notes, o.request_hash,
        o.created_at
    FROM visit AS o
    WHERE o.id = s.id AND NOT EXISTS (SELECT 1 FROM inserted AS i WHERE i.id = s.id)
) AS v ON true
ORDER BY s.position
"""

# What a concurrent upload of the same id stored: it committed after the statement above took
# its snapshot, so that statement could not see it. Read only for a visit that statement found
# in scope and without strangers, so it answers as `RECORD_VISITS` does for such a visit.
STORED_VISIT = """
SELECT true AS household_found, '{}'::uuid[] AS strangers, false AS created,
    id, household_id, coordinator_id, village_code, visited_at, method,
    lat, lon, distance_m, needs_review, notes, request_hash, created_at
FROM visit WHERE id = $1::uuid
"""
