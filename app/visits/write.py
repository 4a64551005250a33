"""A visit and everything it found, written by one SQL statement.

Phones upload visits in bursts when they come back online, so the write is one round trip
whatever the number of member updates: the scope check, the member check, the visit (idempotent
on the phone's id), this month's employment and the intents (upserted, the rows they replace
read under lock first) and one audit row per change, all in one data-modifying `WITH`. A single
statement is atomic: it either writes all of that or, on any error, nothing.

The audit rows it writes have the shape `app.audit.service.record` gives: `changes` maps each
changed field to its old and new value (numbers of money as strings), `changed_fields` is sorted.
"""

from __future__ import annotations

# Parameters: $1 visit id, $2 household, $3 the visiting account, $4/$5 the caller's scope as
# lists of lowest and highest division codes, $6 visited_at, $7 method, $8/$9 lat/lon,
# $10 notes, $11 request hash, $12 the review distance in metres, $13 the month of the visit,
# $14 the visit as sent (JSON; its `member_updates` are read here), $15-$17 the actor's role,
# request id and address, $18 the source of the findings (`ObservationSource.visit`).
# The distance from the village centre is the haversine on a sphere of radius 6,371 km.
RECORD_VISIT = """
WITH target AS (
    SELECT h.id, h.village_code, r.centre_lat, r.centre_lon
    FROM household AS h LEFT JOIN region AS r ON r.code = h.village_code
    WHERE h.id = $2::uuid
      AND EXISTS (
          SELECT 1 FROM unnest($4::text[], $5::text[]) AS s(low, high)
          WHERE h.village_code BETWEEN s.low AND s.high
      )
),
updates AS (
    SELECT u.value AS finding, (u.value ->> 'member_id')::uuid AS member_id, u.position
    FROM jsonb_array_elements($14::jsonb -> 'member_updates') WITH ORDINALITY
        AS u(value, position)
),
-- A member named twice: the later update wins, as if typed in one after the other.
employment AS (
    SELECT DISTINCT ON (u.member_id) u.member_id, e.status, e.region AS work_region,
        e.channel, e.employer, e.months, e.income, e.observed_at
    FROM updates AS u
    CROSS JOIN LATERAL jsonb_to_record(u.finding -> 'employment') AS e(
        status text, region text, channel text, employer text, months smallint,
        income numeric, observed_at timestamptz
    )
    WHERE jsonb_typeof(u.finding -> 'employment') = 'object'
    ORDER BY u.member_id, u.position DESC
),
intents AS (
    SELECT DISTINCT ON (u.member_id) u.member_id, i.intent,
        nullif(btrim(i.reason), '') AS reason, i.training_needs, i.wanted_job_types
    FROM updates AS u
    CROSS JOIN LATERAL jsonb_to_record(u.finding -> 'intent') AS i(
        intent text, reason text, training_needs text[], wanted_job_types text[]
    )
    WHERE jsonb_typeof(u.finding -> 'intent') = 'object'
    ORDER BY u.member_id, u.position DESC
),
strangers AS (
    SELECT coalesce(array_agg(u.member_id ORDER BY u.member_id), '{}') AS ids
    FROM (SELECT DISTINCT member_id FROM updates) AS u
    WHERE NOT EXISTS (
        SELECT 1 FROM member AS m WHERE m.id = u.member_id AND m.household_id = $2::uuid
    )
),
placed AS (
    SELECT t.id, t.village_code,
        CASE WHEN $8::float8 IS NOT NULL AND t.centre_lat IS NOT NULL THEN
            round(2 * 6371000 * asin(sqrt(
                sin(radians(t.centre_lat - $8::float8) / 2) ^ 2
                + cos(radians($8::float8)) * cos(radians(t.centre_lat))
                  * sin(radians(t.centre_lon - $9::float8) / 2) ^ 2
            )))::integer
        END AS distance_m
    FROM target AS t
    WHERE (SELECT cardinality(ids) FROM strangers) = 0
),
inserted AS (
    INSERT INTO visit (
        id, household_id, coordinator_id, village_code, visited_at, method, lat, lon,
        distance_m, needs_review, notes, request_hash
    )
    SELECT $1::uuid, p.id, $3::uuid, p.village_code, $6::timestamptz, $7::text, $8::float8,
        $9::float8, p.distance_m, coalesce(p.distance_m > $12::float8, false), $10::text,
        $11::text
    FROM placed AS p
    ON CONFLICT (id) DO NOTHING
    RETURNING *
),
old_employment AS (
    SELECT e.* FROM member_employment AS e
    WHERE e.period = $13::text
      AND e.member_id IN (SELECT member_id FROM employment)
      AND EXISTS (SELECT 1 FROM inserted)
    FOR UPDATE
),
old_intents AS (
    SELECT i.* FROM member_intent AS i
    WHERE i.member_id IN (SELECT member_id FROM intents)
      AND EXISTS (SELECT 1 FROM inserted)
    FOR UPDATE
),
-- The upserts read the locked rows first (the count), so the audit sees what they replace.
new_employment AS (
    INSERT INTO member_employment AS me (
        member_id, period, status, work_region, channel, employer, months, income, source,
        observed_at, updated_at
    )
    SELECT e.member_id, $13::text, e.status, e.work_region, e.channel, e.employer,
        coalesce(e.months, 0), e.income, $18::text, coalesce(e.observed_at, $6::timestamptz),
        now()
    FROM employment AS e
    WHERE EXISTS (SELECT 1 FROM inserted) AND (SELECT count(*) FROM old_employment) >= 0
    ON CONFLICT (member_id, period) DO UPDATE SET
        status = excluded.status, work_region = excluded.work_region,
        channel = excluded.channel, employer = excluded.employer, months = excluded.months,
        income = excluded.income, source = excluded.source,
        observed_at = excluded.observed_at, updated_at = excluded.updated_at
    RETURNING me.member_id
),
new_intents AS (
    INSERT INTO member_intent AS mi (
        member_id, intent, reason, training_needs, wanted_job_types, source, observed_at,
        updated_at
    )
    SELECT i.member_id, i.intent, i.reason, coalesce(i.training_needs, '{}'),
        coalesce(i.wanted_job_types, '{}'), $18::text, $6::timestamptz, now()
    FROM intents AS i
    WHERE EXISTS (SELECT 1 FROM inserted) AND (SELECT count(*) FROM old_intents) >= 0
    ON CONFLICT (member_id) DO UPDATE SET
        intent = excluded.intent, reason = excluded.reason,
        training_needs = excluded.training_needs,
        wanted_job_types = excluded.wanted_job_types, source = excluded.source,
        observed_at = excluded.observed_at, updated_at = excluded.updated_at
    RETURNING mi.member_id
),
findings AS (
    SELECT 'member_employment' AS entity, e.member_id,
        jsonb_build_object(
            'status', e.status, 'work_region', e.work_region, 'channel', e.channel,
            'employer', e.employer, 'months', coalesce(e.months, 0),
            'income', e.income::numeric(12, 2)::text, 'source', $18::text
        ) AS new,
        CASE WHEN o.member_id IS NOT NULL THEN jsonb_build_object(
            'status', o.status, 'work_region', o.work_region, 'channel', o.channel,
            'employer', o.employer, 'months', o.months, 'income', o.income::text,
            'source', o.source
        ) END AS old,
        -- A new month's row names its month, as `households.service.write_employment` does.
        CASE WHEN o.member_id IS NULL THEN jsonb_build_object(
            'period', jsonb_build_object('old', NULL, 'new', $13::text)
        ) ELSE '{}'::jsonb END AS extra
    FROM employment AS e LEFT JOIN old_employment AS o ON o.member_id = e.member_id
    UNION ALL
    SELECT 'member_intent', i.member_id,
        jsonb_build_object(
            'intent', i.intent, 'reason', i.reason,
            'training_needs', to_jsonb(coalesce(i.training_needs, '{}')),
            'wanted_job_types', to_jsonb(coalesce(i.wanted_job_types, '{}')),
            'source', $18::text
        ),
        CASE WHEN o.member_id IS NOT NULL THEN jsonb_build_object(
            'intent', o.intent, 'reason', o.reason,
            'training_needs', to_jsonb(o.training_needs),
            'wanted_job_types', to_jsonb(o.wanted_job_types), 'source', o.source
        ) END,
        '{}'::jsonb
    FROM intents AS i LEFT JOIN old_intents AS o ON o.member_id = i.member_id
),
changes AS (
    SELECT f.entity, f.member_id AS entity_id,
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
    SELECT 'visit', i.id, 'create', jsonb_build_object(
        'household_id', jsonb_build_object('old', NULL, 'new', i.household_id),
        'method', jsonb_build_object('old', NULL, 'new', i.method),
        'needs_review', jsonb_build_object('old', NULL, 'new', i.needs_review)
    )
    FROM inserted AS i
),
audit AS (
    INSERT INTO audit_event (
        actor_id, actor_role, action, entity, entity_id, region_code, changed_fields,
        changes, request_id, client_address
    )
    SELECT $3::uuid, $15::text, c.action, c.entity, c.entity_id,
        i.village_code,
        ARRAY(SELECT k FROM jsonb_object_keys(c.changes) AS k ORDER BY k COLLATE "C"),
        c.changes, $16::text, $17::text
    FROM changes AS c CROSS JOIN inserted AS i
)
SELECT EXISTS (SELECT 1 FROM target) AS household_found,
    (SELECT ids FROM strangers) AS strangers,
    v.*
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT true AS created, i.id, i.household_id, i.coordinator_id, i.village_code,
        i.visited_at, i.method, i.lat, i.lon, i.distance_m, i.needs_review, i.notes,
        i.request_hash, i.created_at
    FROM inserted AS i
    UNION ALL
    SELECT false, s.id, s.household_id, s.coordinator_id, s.village_code, s.visited_at,
        s.method, s.lat, s.lon, s.distance_m, s.needs_review, s.notes, s.request_hash,
        s.created_at
    FROM visit AS s
    WHERE s.id = $1::uuid AND NOT EXISTS (SELECT 1 FROM inserted)
) AS v ON true
"""

# What a concurrent upload of the same id stored: it committed after the statement above took
# its snapshot, so that statement could not see it.
STORED_VISIT = """
SELECT false AS created, id, household_id, coordinator_id, village_code, visited_at, method,
    lat, lon, distance_m, needs_review, notes, request_hash, created_at
FROM visit WHERE id = $1::uuid
"""
