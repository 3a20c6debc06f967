"""One web process's live streams: who listens to what, and the poller that reads what is new in the
database and hands each listener its share (decision 0057).

The database is the source of truth, so a post stored by another web process or by a worker reaches every
process's listeners alike, on SQLite and PostgreSQL. The poller runs only while someone listens: the first
subscriber starts it (and waits until it has marked where "new" begins), the last one leaving stops it.
Each subscriber has a bounded queue; one that falls ``QUEUE_LIMIT`` events behind is closed (its client
reconnects and reloads), so a slow reader never holds up the others or grows the process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from types import TracebackType

from sqlalchemy import select
from sqlmodel import col

from fediverse.core.errors import ServiceUnavailable
from fediverse.services import Services
from fediverse.web.client_api.auth import Caller, covers
from fediverse.web.client_api.stream_events import (
    NOTIFICATIONS,
    USER,
    Message,
    Stream,
    ViewerMessages,
    follows_among,
    viewer_messages,
)
from fediverse.web.client_api.stream_news import Cursors, News, read_news, start_cursors
from storage.models import Account, OAuthToken

log = logging.getLogger(__name__)

#: Events waiting for one connection before it is closed as too slow.
QUEUE_LIMIT = 500
#: How often the poller looks for news while anyone listens (seconds).
POLL_SECONDS = 0.5
#: After the database failed to answer, the poller tries again this much later.
RETRY_SECONDS = 5.0
#: How often the listeners' tokens are checked (revoked, or the account disabled: the stream ends).
TOKEN_CHECK_SECONDS = 30.0
#: How long a new subscriber waits for the poller to start before it is told to try again.
START_SECONDS = 10.0

#: Why a subscriber was closed.
SHUTDOWN = "shutdown"
TOO_SLOW = "too slow"
REVOKED = "revoked"

Item = tuple[list[str], Message]


class Subscriber:
    """One connection: its account, its streams (each with the name WebSocket messages give it) and the
    events waiting to be sent."""

    def __init__(self, caller: Caller, *, limit: int = QUEUE_LIMIT) -> None:
        if caller.account is None:
            raise ValueError("streams are for a user's token")
        self.account: Account = caller.account
        self.token_id = caller.token.id
        self.may_read_notifications = covers(caller.scopes, "read:notifications")
        self.streams: dict[Stream, list[str]] = {}
        self.closed: str | None = None
        self._queue: asyncio.Queue[Item | None] = asyncio.Queue(limit)

    @property
    def wants_notifications(self) -> bool:
        return self.may_read_notifications and any(stream.kind in (USER, NOTIFICATIONS) for stream in self.streams)

    def close(self, reason: str) -> None:
        """End the subscriber: ``next`` answers ``None`` from now on, and ``closed`` says why."""
        if self.closed is None:
            self.closed = reason
            with contextlib.suppress(asyncio.QueueFull):  # a full queue's reader is not waiting
                self._queue.put_nowait(None)

    def offer(self, name: list[str], message: Message) -> None:
        if self.closed is not None:
            return
        try:
            self._queue.put_nowait((name, message))
        except asyncio.QueueFull:
            self.close(TOO_SLOW)

    def deliver(self, messages: ViewerMessages) -> None:
        """Queue the events of this viewer's share that this connection's streams carry."""
        for stream, name in self.streams.items():
            for message in messages.by_stream.get(stream, ()):
                self.offer(name, message)
            if stream.kind in (USER, NOTIFICATIONS) and self.may_read_notifications:
                for message in messages.notifications:
                    self.offer(name, message)

    async def next(self, timeout: float) -> Item | None:
        """The next event, or ``None`` after ``timeout`` seconds without one or once closed."""
        if self.closed is not None:
            return None
        try:
            async with asyncio.timeout(timeout):
                item = await self._queue.get()
        except TimeoutError:
            return None
        return None if self.closed is not None else item


class StreamHub:
    """The process's subscribers and their poller; the app's lifespan opens and closes it."""

    def __init__(self, services: Services, *, poll_seconds: float = POLL_SECONDS) -> None:
        self._services = services
        self._poll_seconds = poll_seconds
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self._stopping = asyncio.Event()

    async def __aenter__(self) -> StreamHub:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def join(self, subscriber: Subscriber) -> None:
        """Start sending ``subscriber`` what is new from now on (503 while the poller cannot start)."""
        if self._stopping.is_set():
            raise ServiceUnavailable("The server is shutting down; reconnect shortly.")
        self._subscribers.add(subscriber)
        if self._task is None or self._task.done():
            self._started = asyncio.Event()
            self._task = asyncio.create_task(self._run(self._started), name="streaming poller")
        started = self._started
        try:
            async with asyncio.timeout(START_SECONDS):
                await started.wait()
        except TimeoutError:
            self.leave(subscriber)
            raise ServiceUnavailable("Streaming is not available right now; reconnect shortly.") from None

    def leave(self, subscriber: Subscriber) -> None:
        """Stop sending to ``subscriber``; the poller stops after the last one leaves."""
        self._subscribers.discard(subscriber)

    async def close(self) -> None:
        """End every subscriber and the poller (the app is shutting down)."""
        self._stopping.set()
        for subscriber in self._subscribers:
            subscriber.close(SHUTDOWN)
        self._subscribers.clear()
        if self._task is not None:
            try:
                async with asyncio.timeout(RETRY_SECONDS):
                    await self._task
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    async def _run(self, started: asyncio.Event) -> None:
        cursors: Cursors | None = None
        tokens_checked = time.monotonic()
        while self._subscribers and not self._stopping.is_set():
            try:
                if cursors is None:
                    cursors = await self._services.db.read(start_cursors)
                    started.set()
                else:
                    await self._poll(cursors)
                if time.monotonic() - tokens_checked > TOKEN_CHECK_SECONDS:
                    tokens_checked = time.monotonic()
                    await self._check_tokens()
            except Exception:
                log.exception("the streaming poller failed; trying again in %s s", RETRY_SECONDS)
                await self._pause(RETRY_SECONDS)
                continue
            await self._pause(self._poll_seconds)

    async def _poll(self, cursors: Cursors) -> None:
        listening = [subscriber for subscriber in self._subscribers if subscriber.closed is None]
        with_tags = any(stream.tag is not None for subscriber in listening for stream in subscriber.streams)
        news = await self._services.db.read(lambda session: read_news(session, cursors, with_tags=with_tags))
        cursors.advance(time.monotonic())
        if news and listening:
            await self._deliver(news, listening)

    async def _deliver(self, news: News, listening: Sequence[Subscriber]) -> None:
        """Each viewer's share of ``news``, computed once per viewer, queued for its connections."""
        by_viewer: dict[int, list[Subscriber]] = {}
        for subscriber in listening:
            by_viewer.setdefault(subscriber.account.actor_id, []).append(subscriber)
        home_viewers = {
            actor_id
            for actor_id, group in by_viewer.items()
            if any(stream.follows_circle for subscriber in group for stream in subscriber.streams)
        }
        actors = {post.author_id for post in news.posts} | {boost.actor_id for boost in news.boosts}
        follows = await follows_among(self._services, home_viewers, actors | {gone.actor_id for gone in news.unboosts})
        for actor_id, group in by_viewer.items():
            streams = [stream for subscriber in group for stream in subscriber.streams]
            circle = {actor_id} | {followee for follower, followee in follows if follower == actor_id}
            try:
                messages = await viewer_messages(
                    self._services,
                    group[0].account,
                    streams,
                    news,
                    circle=circle,
                    with_notifications=any(subscriber.wants_notifications for subscriber in group),
                )
            except Exception:
                log.exception("streaming: events for actor %s failed", actor_id)
                continue
            for subscriber in group:
                subscriber.deliver(messages)

    async def _check_tokens(self) -> None:
        """Close the subscribers whose token was revoked or whose account was disabled."""
        token_ids = {subscriber.token_id for subscriber in self._subscribers}
        if not token_ids:
            return
        statement = (
            select(col(OAuthToken.id))
            .join(Account, col(Account.id) == col(OAuthToken.account_id))
            .where(col(OAuthToken.id).in_(token_ids), col(Account.disabled_at).is_(None))
        )
        valid = set(await self._services.db.read(lambda session: list(session.scalars(statement))))
        for subscriber in list(self._subscribers):
            if subscriber.token_id not in valid:
                subscriber.close(REVOKED)
