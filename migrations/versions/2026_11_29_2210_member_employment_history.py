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
    h member_employment_history, member uuid, months_in integer[], working_in boolean[],
    away_in boolean[], flexible_in boolean[], farming_in boolean[], employers_in integer[],
    incomes_in bigint[]
) RETURNS member_employment_history
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    -- Local variables throughout: plpgsql reads and edits a local array in place, but
    -- copies an argument's or a record field's on every subscript.
    months integer[] := months_in;
    working boolean[] := working_in;
    away boolean[] := away_in;
    flexible boolean[] := flexible_in;
    farming boolean[] := farming_in;
    employers integer[] := employers_in;
    incomes bigint[] := incomes_in;
    old_keys integer[] := h.employers;
    old_ytd bigint[] := h.ytd;
    base integer;
    top integer;
    shift integer;
    recorded bigint := 0;
    working_bits bigint := 0;
    away_bits bigint := 0;
    flexible_bits bigint := 0;
    farming_bits bigint := 0;
    changed bigint := 0;
    keys integer[] := array_fill(0, ARRAY[36]);
    income bigint[] := array_fill(0::bigint, ARRAY[36]);
    ytd bigint[] := array_fill(0::bigint, ARRAY[36]);
    i integer;
    k integer;
    b bigint;
    run bigint := 0;
    prev integer := 0;
BEGIN
    FOR k IN 1 .. coalesce(cardinality(months), 0) LOOP
        IF top IS NULL OR months[k] > top THEN top := months[k]; END IF;
    END LOOP;
    base := (top / 12 - 2) * 12;
    IF h.member_id IS NOT NULL AND (top IS NULL OR h.base > base) THEN
        base := h.base;
    END IF;
    IF h.member_id IS NOT NULL THEN
        shift := base - h.base;
        IF shift < 36 THEN
            recorded := h.recorded >> shift;
            working_bits := h.working >> shift;
            away_bits := h.away >> shift;
            flexible_bits := h.flexible >> shift;
            farming_bits := h.farming >> shift;
            FOR i IN 0 .. 35 - shift LOOP
                keys[i + 1] := old_keys[i + shift + 1];
                income[i + 1] := old_ytd[i + shift + 1]
                    - CASE WHEN (i + shift) % 12 = 0 THEN 0 ELSE old_ytd[i + shift] END;
            END LOOP;
        END IF;
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
        income[i + 1] := incomes[k];
    END LOOP;
    FOR i IN 0 .. 35 LOOP
        IF i % 12 = 0 THEN run := 0; END IF;
        run := run + income[i + 1];
        ytd[i + 1] := run;
        IF keys[i + 1] <> 0 THEN
            IF prev <> 0 AND prev <> keys[i + 1] THEN
                changed := changed | (1::bigint << i);
            END IF;
            prev := keys[i + 1];
        END IF;
    END LOOP;
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
    i integer;
BEGIN
    FOR i IN 0 .. 35 LOOP
        CONTINUE WHEN (x.recorded >> i) & 1 = 0;
        months := months || (x.base + i);
        working := working || ((x.working >> i) & 1 = 1);
        away := away || ((x.away >> i) & 1 = 1);
        flexible := flexible || ((x.flexible >> i) & 1 = 1);
        farming := farming || ((x.farming >> i) & 1 = 1);
        employers := employers || x.employers[i + 1];
        incomes := incomes
            || (x.ytd[i + 1] - CASE WHEN i % 12 = 0 THEN 0 ELSE x.ytd[i] END);
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
