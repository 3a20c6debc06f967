"""Invite links: whether one is still usable, and counting a use in the transaction that creates the account.

The count is one conditional ``UPDATE … WHERE uses < max_uses``: of several registrations racing for
the last use, exactly one changes the row (PostgreSQL re-checks the condition after waiting for the row
lock; SQLite runs write transactions one at a time), and the others roll back their accounts.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from fediverse.core.errors import Forbidden
from storage.models import Invite
from storage.types import utcnow

MAX_CODE_LENGTH = 64
INVALID_INVITE = "This invite link is not valid any more. Ask for a new one."


def _usable(code: str) -> ColumnElement[bool]:
    now = utcnow()
    return and_(
        Invite.code == code[:MAX_CODE_LENGTH],  # type: ignore[arg-type]
        or_(Invite.max_uses.is_(None), Invite.uses < Invite.max_uses),  # type: ignore[arg-type,union-attr,operator]
        or_(Invite.expires_at.is_(None), Invite.expires_at > now),  # type: ignore[arg-type,union-attr,operator]
    )


async def check_invite(session: AsyncSession, code: str) -> None:
    """``Forbidden`` unless ``code`` names an invite with uses left (a cheap look before the real count)."""
    if await session.scalar(select(Invite.code).where(_usable(code))) is None:  # type: ignore[call-overload]
        raise Forbidden(INVALID_INVITE)


async def redeem_invite(session: AsyncSession, code: str) -> None:
    """Count one use of ``code`` in the caller's transaction; ``Forbidden`` when it has none left."""
    counting = update(Invite).where(_usable(code)).values(uses=Invite.uses + 1)
    result = await session.execute(counting.execution_options(synchronize_session=False))
    if cast(CursorResult[Any], result).rowcount != 1:
        raise Forbidden(INVALID_INVITE)
