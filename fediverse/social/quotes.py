"""Quote posts, the write side (FEP-044f, decision 0064): our users quoting a post, asking its author when
its server wants to be asked, and our users' posts being quoted from elsewhere.

- ``quote_state_for``: whether a local account may quote a post, and whether it must ask first.
- ``request_quote``: send the ``QuoteRequest`` for one of our pending quotes.
- ``receive_quote_answer``: the quoted author's ``Accept`` (with its ``QuoteAuthorization``) or ``Reject``;
  an accepted quote is then sent again (``posts.republish_post``) carrying ``quoteAuthorization``.
- ``answer_quote_request``: a remote post asks to quote one of ours: ``Accept`` with an authorization we serve
  at its own URL, or ``Reject``, per the post's policy (``federation.quote_policy``).
- ``revoke_quote_authorizations``: our user deleted a quoted post: its authorizations are withdrawn.

Each runs inside the caller's write transaction and queues what it sends through ``federation.outbox``.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from activitypub.vocab import JsonObject, with_context
from fediverse.core.errors import BadRequest, NotFound
from fediverse.core.urls import Urls
from fediverse.core.visibility import can_see
from fediverse.federation.activities import new_activity_id
from fediverse.federation.outbox import inbox_of, queue_activity
from fediverse.federation.quote_policy import QuoteApproval, local_quote_approval, remote_quote_approval
from fediverse.federation.quotes import quote_request, request_answer
from storage.dialects import insert_for
from storage.models import Actor, Follow, FollowState, Post, QuoteAuthorization, QuoteState, Visibility
from storage.types import utcnow


async def quote_state_for(session: AsyncSession, author: Actor, quoted: Post) -> QuoteState:
    """The state a new quote of ``quoted`` by ``author`` starts in: ``ACCEPTED`` when its policy approves
    automatically (or its server publishes none), ``PENDING`` when its author must be asked. A post the author
    may not see is ``NotFound``; a direct post, or one whose policy refuses, is ``BadRequest``."""
    if quoted.deleted_at is not None or not await can_see(session, quoted, author.id):
        raise NotFound("No such post.")
    if quoted.visibility == Visibility.DIRECT and quoted.author_id != author.id:
        raise BadRequest("Private mentions cannot be quoted.")
    if quoted.is_local:
        approval = local_quote_approval(quoted, author.id)
    else:
        quoted_author = await session.get(Actor, quoted.author_id)
        assert quoted_author is not None
        raw = await session.scalar(select(col(Post.raw)).where(col(Post.id) == quoted.id))
        follows = await session.scalar(
            select(col(Follow.id)).where(
                col(Follow.follower_id) == author.id,
                col(Follow.followee_id) == quoted_author.id,
                col(Follow.state) == FollowState.ACCEPTED,
            )
        )
        approval = remote_quote_approval(
            raw,
            author.ap_id,
            author_ap_id=quoted_author.ap_id,
            author_followers_url=quoted_author.followers_url,
            follows_author=follows is not None,
        )
    if approval == QuoteApproval.DENIED:
        raise BadRequest("The author does not allow quotes of this post.")
    return QuoteState.PENDING if approval == QuoteApproval.MANUAL else QuoteState.ACCEPTED


async def request_quote(session: AsyncSession, urls: Urls, author: Actor, post: Post, quoted: Post) -> None:
    """Ask the quoted post's author to approve our quote (a ``QuoteRequest`` to their inbox)."""
    quoted_author = await session.get(Actor, quoted.author_id)
    assert quoted_author is not None
    activity = with_context(quote_request(author.ap_id, post.ap_id, quoted.ap_id, quoted_author.ap_id))
    await queue_activity(session, author, activity, [inbox_of(quoted_author)], local_base_url=urls.base_url)


async def receive_quote_answer(
    session: AsyncSession, answerer: Actor, post: Post, *, authorization: str | None
) -> bool:
    """The quoted author answered our ``QuoteRequest`` for ``post``: ``authorization`` (the ``Accept``'s
    ``result``) approves, ``None`` rejects. Only the quoted post's author may answer. True when the quote is
    now approved: the caller sends the post again (``posts.republish_post``) so everyone sees
    ``quoteAuthorization``."""
    quoted = await session.scalar(select(Post).where(col(Post.ap_id) == post.quote_ap_id))
    if quoted is None or quoted.author_id != answerer.id or post.quote_state != QuoteState.PENDING:
        return False
    if authorization is None:
        post.quote_state = QuoteState.REJECTED
        return False
    post.quote_state = QuoteState.ACCEPTED
    post.quote_authorization = authorization
    return True


async def answer_quote_request(
    session: AsyncSession, urls: Urls, requester: Actor, quoted: Post, quoting_ap_id: str, request: JsonObject
) -> None:
    """A remote post (``quoting_ap_id``, by ``requester``) asks to quote our post ``quoted``: ``Accept`` with a
    ``QuoteAuthorization`` when the post's policy lets ``requester`` quote it and they may see it, else
    ``Reject`` (as Mastodon 4.5's ``QuoteRequest`` handler). Asking again for the same pair answers with the
    same authorization."""
    author = await session.get(Actor, quoted.author_id)
    assert author is not None and author.username is not None
    allowed = (
        quoted.deleted_at is None
        and local_quote_approval(quoted, requester.id) == QuoteApproval.AUTOMATIC
        and await can_see(session, quoted, requester.id)
    )
    if not allowed:
        reject = with_context(request_answer("Reject", author.ap_id, new_activity_id(urls, author.username), request))
        await queue_activity(session, author, reject, [inbox_of(requester)], local_base_url=urls.base_url)
        return
    dialect_insert = insert_for(session.get_bind().dialect.name)
    await session.execute(
        dialect_insert(QuoteAuthorization)
        .values(
            quoted_post_id=quoted.id,
            quoting_ap_id=quoting_ap_id,
            quoting_actor_id=requester.id,
            request_ap_id=str(request.get("id") or "")[:2048] or None,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["quoted_post_id", "quoting_ap_id"])
    )
    granted = await session.scalar(
        select(QuoteAuthorization).where(
            col(QuoteAuthorization.quoted_post_id) == quoted.id, col(QuoteAuthorization.quoting_ap_id) == quoting_ap_id
        )
    )
    assert granted is not None
    result = urls.quote_authorization_id(author.username, granted.id)
    answer_id = new_activity_id(urls, author.username)  # each request is answered, a repeated one too
    accept = with_context(request_answer("Accept", author.ap_id, answer_id, request, result=result))
    await queue_activity(session, author, accept, [inbox_of(requester)], local_base_url=urls.base_url)


async def revoke_quote_authorizations(session: AsyncSession, post: Post) -> None:
    """Our post is deleted: the authorizations it granted stop being served (its ``QuoteAuthorization`` URLs
    answer 410), so servers that check them drop the quotes."""
    await session.execute(
        update(QuoteAuthorization)
        .where(col(QuoteAuthorization.quoted_post_id) == post.id, col(QuoteAuthorization.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
