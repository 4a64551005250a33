"""Deactivating an account revokes its refresh tokens, whoever deactivates it and how.

Accounts are deactivated by an administrator's statement as often as by the service; a
trigger makes the revocation part of that same statement's transaction, so reactivating the
account later does not bring its old logins back.

Revision ID: 20261129_1800
Revises: 20261123_0900
Create Date: 2026-11-30 02:00:00.000000+08:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261129_1800"
down_revision: str | None = "20261123_0900"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION revoke_refresh_tokens_of_deactivated() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE refresh_token
               SET revoked_at = now(), revoked_reason = 'account_disabled'
             WHERE user_id = NEW.id AND revoked_at IS NULL;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER user_account_deactivated_revokes_tokens
        AFTER UPDATE OF is_active ON user_account
        FOR EACH ROW WHEN (OLD.is_active AND NOT NEW.is_active)
        EXECUTE FUNCTION revoke_refresh_tokens_of_deactivated()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER user_account_deactivated_revokes_tokens ON user_account")
    op.execute("DROP FUNCTION revoke_refresh_tokens_of_deactivated()")
