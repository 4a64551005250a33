"""Each labourer's recent employment in one row (`member_employment_history`), kept by the one
member writer as months are written, and filled here from the months already stored.

Revision ID: 20261129_2210
Revises: 20261129_2200
Create Date: 2026-11-29 22:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261129_2210"
down_revision: str | None = "20261129_2200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The functions as `app.alerts.history` states them (copied: a migration stays as it ran).
EMPLOYER_KEY = """
CREATE FUNCTION employment_history_employer(employer text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN coalesce(btrim(employer), '') = '' THEN 0
        ELSE coalesce(nullif(('x' || left(md5(btrim(employer)), 8))::bit(32)::integer, 0), 1)
    END
$$
"""

OVERLAY = """
CREATE FUNCTION employment_history_overlay(
    h member_employment_history, member uuid, months integer[], working boolean[],
    away boolean[], flexible boolean[], farming boolean[], employers integer[],
    incomes bigint[]
) RETURNS member_employment_history
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    -- The arrays edited are local variables: plpgsql edits those in place, a record's
    -- field it would copy on every assignment.
    old_keys integer[];
    old_ytd bigint[];
    given bigint[] := array_fill(NULL::bigint, ARRAY[36]);
    base integer;
    top integer;
    shift integer;
    lo integer := 36;  -- the first month whose income or employer may have changed
    recorded bigint := 0;
    working_bits bigint := 0;
    away_bits bigint := 0;
    flexible_bits bigint := 0;
    farming_bits bigint := 0;
    changed bigint := 0;
    keys integer[];
    ytd bigint[];
    i integer;
    j integer;
    k integer;
    b bigint;
    run bigint;
    old bigint;
    old_before bigint;
    prev integer := 0;
BEGIN
    FOR k IN 1 .. coalesce(cardinality(months), 0) LOOP
        IF top IS NULL OR months[k] > top THEN top := months[k]; END IF;
    END LOOP;
    base := (top / 12 - 2) * 12;
    IF h.member_id IS NOT NULL AND (top IS NULL OR h.base > base) THEN
        base := h.base;
    END IF;
    IF h.member_id IS NULL THEN
        keys := array_fill(0, ARRAY[36]);
        ytd := array_fill(0::bigint, ARRAY[36]);
    ELSIF h.base = base THEN
        recorded := h.recorded; working_bits := h.working; away_bits := h.away;
        flexible_bits := h.flexible; farming_bits := h.farming; changed := h.changed;
        keys := h.employers;
        ytd := h.ytd;
    ELSE
        -- The window moves by whole years: each kept month keeps its year-to-date income.
        shift := base - h.base;
        keys := array_fill(0, ARRAY[36]);
        ytd := array_fill(0::bigint, ARRAY[36]);
        IF shift < 36 THEN
            recorded := h.recorded >> shift;
            working_bits := h.working >> shift;
            away_bits := h.away >> shift;
            flexible_bits := h.flexible >> shift;
            farming_bits := h.farming >> shift;
            old_keys := h.employers;
            old_ytd := h.ytd;
            FOR i IN 0 .. 35 - shift LOOP
                keys[i + 1] := old_keys[i + shift + 1];
                ytd[i + 1] := old_ytd[i + shift + 1];
            END LOOP;
        END IF;
        lo := 0;  -- the first month worked in the window has lost its predecessor
    END IF;
    FOR k IN 1 .. coalesce(cardinality(months), 0) LOOP
        i := months[k] - base;
        CONTINUE WHEN i < 0 OR i > 35;
        b := 1::bigint << i;
        recorded := recorded | b;
        working_bits := CASE WHEN working[k] THEN working_bits | b ELSE working_bits & ~b END;
        away_bits := CASE WHEN away[k] THEN away_bits | b ELSE away_bits & ~b END;
        flexible_bits := CASE WHEN flexible[k] THEN flexible_bits | b
            ELSE flexible_bits & ~b END;
        farming_bits := CASE WHEN farming[k] THEN farming_bits | b ELSE farming_bits & ~b END;
        keys[i + 1] := CASE WHEN working[k] THEN employers[k] ELSE 0 END;
        given[i + 1] := incomes[k];
        IF i < lo THEN lo := i; END IF;
    END LOOP;
    IF lo < 36 THEN
        -- Year-to-date income from the first month changed on (before it nothing moves):
        -- each month's own income is its given one, or its old total less the month
        -- before's old total.
        old_before := CASE WHEN lo % 12 = 0 THEN 0 ELSE ytd[lo] END;
        run := old_before;
        FOR i IN lo .. 35 LOOP
            IF i % 12 = 0 THEN run := 0; old_before := 0; END IF;
            old := ytd[i + 1];
            run := run + coalesce(given[i + 1], old - old_before);
            old_before := old;
            ytd[i + 1] := run;
        END LOOP;
        -- Employer changes from there on, against the last employer before it.
        j := lo - 1;
        WHILE j >= 0 AND prev = 0 LOOP
            prev := keys[j + 1];
            j := j - 1;
        END LOOP;
        changed := changed & ((1::bigint << lo) - 1);
        FOR i IN lo .. 35 LOOP
            IF keys[i + 1] <> 0 THEN
                IF prev <> 0 AND prev <> keys[i + 1] THEN
                    changed := changed | (1::bigint << i);
                END IF;
                prev := keys[i + 1];
            END IF;
        END LOOP;
    END IF;
    RETURN ROW(member, base, recorded, working_bits, away_bits, flexible_bits, farming_bits,
        changed, keys, ytd)::member_employment_history;
END
$$
"""

COMBINE = """
CREATE FUNCTION employment_history_combine(
    h member_employment_history, x member_employment_history
) RETURNS member_employment_history
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    months integer[] := '{}';
    working boolean[] := '{}';
    away boolean[] := '{}';
    flexible boolean[] := '{}';
    farming boolean[] := '{}';
    employers integer[] := '{}';
    incomes bigint[] := '{}';
    keys integer[] := x.employers;
    ytd bigint[] := x.ytd;
    rest bigint := x.recorded;
    i integer := 35;
BEGIN
    -- `x`'s months, latest first (a write is most often of the latest months): each with
    -- its own income, its year-to-date total less the month before's.
    WHILE rest <> 0 LOOP
        IF (rest >> i) & 1 = 1 THEN
            months := months || (x.base + i);
            working := working || ((x.working >> i) & 1 = 1);
            away := away || ((x.away >> i) & 1 = 1);
            flexible := flexible || ((x.flexible >> i) & 1 = 1);
            farming := farming || ((x.farming >> i) & 1 = 1);
            employers := employers || keys[i + 1];
            incomes := incomes || (ytd[i + 1] - CASE WHEN i % 12 = 0 THEN 0 ELSE ytd[i] END);
            rest := rest & ~(1::bigint << i);
        END IF;
        i := i - 1;
    END LOOP;
    RETURN employment_history_overlay(
        h, x.member_id, months, working, away, flexible, farming, employers, incomes
    );
END
$$
"""

BACKFILL = """
INSERT INTO member_employment_history
SELECT n.*
FROM (
    SELECT e.member_id,
        array_agg(left(e.period, 4)::integer * 12 + substr(e.period, 6, 2)::integer - 1)
            AS months,
        array_agg(e.status = '务工') AS working,
        array_agg(e.status = '务工' AND coalesce(e.work_region IN ('省外', '省内县外'), false))
            AS away,
        array_agg(e.status = '务工' AND coalesce(e.channel = '灵活就业', false)) AS flexible,
        array_agg(e.status = '务工' AND coalesce(e.channel = '务农', false)) AS farming,
        array_agg(employment_history_employer(e.employer)) AS employers,
        array_agg(round(coalesce(e.income, 0) * 100)::bigint) AS incomes
    FROM member_employment AS e
    GROUP BY e.member_id
) AS g
CROSS JOIN LATERAL employment_history_overlay(
    NULL, g.member_id, g.months, g.working, g.away, g.flexible, g.farming, g.employers,
    g.incomes
) AS n
"""


def upgrade() -> None:
    op.create_table(
        "member_employment_history",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("base", sa.Integer(), nullable=False),
        sa.Column("recorded", sa.BigInteger(), nullable=False),
        sa.Column("working", sa.BigInteger(), nullable=False),
        sa.Column("away", sa.BigInteger(), nullable=False),
        sa.Column("flexible", sa.BigInteger(), nullable=False),
        sa.Column("farming", sa.BigInteger(), nullable=False),
        sa.Column("changed", sa.BigInteger(), nullable=False),
        sa.Column("employers", sa.ARRAY(sa.Integer()), nullable=False),
        sa.Column("ytd", sa.ARRAY(sa.BigInteger()), nullable=False),
        sa.CheckConstraint("base % 12 = 0", name=op.f("ck_member_employment_history_base_january")),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_member_employment_history_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_employment_history")),
    )
    op.execute(EMPLOYER_KEY)
    op.execute(OVERLAY)
    op.execute(COMBINE)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute("DROP FUNCTION employment_history_combine")
    op.execute("DROP FUNCTION employment_history_overlay")
    op.execute("DROP FUNCTION employment_history_employer")
    op.drop_table("member_employment_history")
