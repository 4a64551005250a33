"""Visits written by one SQL statement for a batch of uploads.

Phones upload visits in bursts when they come back online, so a batch's visits are one
statement whatever their number: per visit, the scope check, the check that every member
updated is of the household, the visit (idempotent on the phone's id) and its audit row, and
what the visits it inserted found about members (this month's employment, intents), written
by the member writer's own statements (`app.households.writer`), set in this one as chains of
their own. A single statement is atomic: on any error it writes nothing, and
`app.visits.writer` gives a failed batch's visits a statement each, so one bad upload never
fails another.

When another transaction inserted a member's row after this statement's snapshot, the member
writer leaves it unwritten (`pending`); this statement then gives up as a serialization
failure, writing nothing, and `app.visits.writer` runs it again, when the row is visible.

The audit row of a visit has the shape `app.audit.service.record` gives.
"""

from __future__ import annotations

from app.households.writer import EMPLOYMENT, INTENT, RowKind

# Parameters: $1 the visits, a JSON array of `{"meta": {…}, "body": <the visit as sent>}`; the
# meta holds what the server adds: the visiting account, the caller's scope as lists of lowest
# and highest division codes, the request hash, the actor's role, request id and address. $2
# the review distance in metres. $3 the employment found, an array of `employment_write`, and
# $4 the visit of each; $5 and $6 the same for intents. One answer row per visit, in order.
# The distance from the village centre is the haversine on a sphere of radius 6,371 km.
_VISITS = """
sent AS (
    SELECT b.position, b.item -> 'body' AS body, m.*, v.*,
        (v.location ->> 'lat')::float8 AS lat, (v.location ->> 'lon')::float8 AS lon
    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b(item, position)
    CROSS JOIN LATERAL jsonb_to_record(b.item -> 'meta') AS m(
        coordinator_id uuid, lows text[], highs text[], request_hash text, actor_role text,
        request_id text, client_address text
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
    SELECT s.position, (u.value ->> 'member_id')::uuid AS member_id
    FROM sent AS s
    CROSS JOIN LATERAL jsonb_array_elements(s.body -> 'member_updates') AS u(value)
),
-- Each member looked up by key (a subquery per row): the planner cannot know how few there
-- are, and would otherwise read the whole member table to join them.
strangers AS (
    SELECT u.position, array_agg(DISTINCT u.member_id) AS ids
    FROM updates AS u JOIN sent AS s ON s.position = u.position
    WHERE (SELECT m.household_id FROM member AS m WHERE m.id = u.member_id)
        IS DISTINCT FROM s.household_id
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
audited AS (
    INSERT INTO audit_event (
        actor_id, actor_role, action, entity, entity_id, region_code, changed_fields,
        changes, request_id, client_address
    )
    SELECT s.coordinator_id, s.actor_role, 'create', 'visit', i.id, i.village_code,
        '{household_id,method,needs_review}', jsonb_build_object(
            'household_id', jsonb_build_object('old', NULL, 'new', i.household_id),
            'method', jsonb_build_object('old', NULL, 'new', i.method),
            'needs_review', jsonb_build_object('old', NULL, 'new', i.needs_review)
        ), s.request_id, s.client_address
    FROM inserted AS i JOIN sent AS s ON s.id = i.id
)"""


def _found(kind: RowKind, rows: int, visits: int) -> str:
    """The member writer's input rows of `kind` (parameter `$rows`) of the visits inserted now
    (`$visits`, the visit of each): a retry's findings were written with its visit."""
    return f"""SELECT r.* FROM unnest(${rows}::{kind.type_name}[]) WITH ORDINALITY AS r
    JOIN unnest(${visits}::uuid[]) WITH ORDINALITY AS v(visit_id, ordinality)
        ON v.ordinality = r.ordinality
    WHERE v.visit_id IN (SELECT i.id FROM inserted AS i)"""  # noqa: S608


_ANSWERS = """
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
WHERE NOT EXISTS (SELECT 1 FROM employment_pending)
    AND NOT EXISTS (SELECT 1 FROM intent_pending)
    OR raise_serialization_failure('a member''s row was written concurrently; try again')
ORDER BY s.position
"""

RECORD_VISITS = (
    f"WITH {_VISITS},\n{EMPLOYMENT.chain(_found(EMPLOYMENT, 3, 4), 'employment_')},\n"
    f"{INTENT.chain(_found(INTENT, 5, 6), 'intent_')}{_ANSWERS}"
)

# What a concurrent upload of the same id stored: it committed after the statement above took
# its snapshot, so that statement could not see it. Read only for a visit that statement found
# in scope and without strangers, so it answers as `RECORD_VISITS` does for such a visit.
STORED_VISIT = """
SELECT true AS household_found, '{}'::uuid[] AS strangers, false AS created,
    id, household_id, coordinator_id, village_code, visited_at, method,
    lat, lon, distance_m, needs_review, notes, request_hash, created_at
FROM visit WHERE id = $1::uuid
"""
