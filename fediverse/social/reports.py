"""A local account reports an account (and some of its posts) to this instance's admins, and optionally
to the account's own server. Call inside a write transaction.

The forwarded report is a ``Flag`` in Mastodon's shape (``ActivityPub::FlagSerializer``): sent by the
instance actor so the reporter stays anonymous, ``object`` the account then the posts, ``content`` the
comment, delivered to the reported account's inbox.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.errors import BadRequest
from fediverse.core.urls import Urls
from fediverse.federation.activities import flag_activity
from fediverse.federation.outbox import queue_activity
from fediverse.social.removals import record_report
from storage.models import Actor, Post, Report
from storage.types import utcnow

MAX_COMMENT_LENGTH = 1000


async def file_report(
    session: AsyncSession,
    urls: Urls,
    reporter: Actor,
    target: Actor,
    posts: Sequence[Post],
    comment: str,
    *,
    forward: bool,
) -> Report:
    """Store the report for the admins; with ``forward``, also send it to a remote account's server."""
    if reporter.id == target.id:
        raise BadRequest("You cannot report yourself.")
    if len(comment) > MAX_COMMENT_LENGTH:
        raise BadRequest(f"The comment may have at most {MAX_COMMENT_LENGTH} characters.")
    if any(post.author_id != target.id for post in posts):
        raise BadRequest("Only the reported account's own posts can be part of the report.")
    post_ids = [post.ap_id for post in posts]
    report = await record_report(
        session, activity_id=None, reporter=reporter, target=target, post_ids=post_ids, comment=comment
    )
    if forward and not target.is_local:
        instance = await session.scalar(select(Actor).where(col(Actor.ap_id) == urls.instance_actor_id()))
        assert instance is not None, "the instance actor is created when the services open"
        flag = flag_activity(urls.report_id(secrets.token_hex(12)), instance.ap_id, [target.ap_id, *post_ids], comment)
        await queue_activity(session, instance, flag, [target.inbox_url], local_base_url=urls.base_url)
        report.ap_id = flag["id"]
        report.forwarded_at = utcnow()
    return report
