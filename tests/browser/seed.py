"""Pictures from "another server" for pages with images: painted by the procedural generator, served by
a static HTTP server on 127.0.0.1, and stored as a remote account's posts (rows as ingest writes them).

The web UI's own image posts need the generation API; these remote posts let every page be shown
with real images whether or not that API is present.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import select

from fediverse.generation.base import GenerationRequest
from fediverse.generation.procedural import ProceduralGenerator
from fediverse.imaging import process_image_sync
from storage.db import Database
from storage.models import Actor, Follow, FollowState, Media, MediaState, Post, PostMedia, PostTag, Visibility
from storage.types import utcnow

PICTURES = [
    (
        "a lighthouse at dusk, soft watercolor, warm light",
        "watercolor",
        "🌙",
        "dreamy",
        "Evening walk to the point. #lighthouse",
    ),
    ("misty pine forest in the morning, calm green", "poster", "🌿", "calm", "The forest before anyone is awake."),
    ("a red city skyline at night with neon rain", "synthwave", "🔥", "fierce", "Rain on the way home #city"),
    ("lavender mountains over a quiet lake, pastel", "pastel", "✨", "wonder", "If mornings had a colour."),
    ("stormy sea with a small boat, dramatic clouds", "ink", "🌊", "drifting", "Holding on. #sea"),
    (
        "autumn orchard, golden leaves, low sun",
        "watercolor",
        "🍂",
        "nostalgic",
        "My grandmother's orchard, as I remember it.",
    ),
]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@dataclass
class PictureServer:
    base_url: str
    folder: Path


@contextmanager
def picture_server(folder: Path) -> Iterator[PictureServer]:
    folder.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PictureServer(f"http://127.0.0.1:{server.server_address[1]}", folder)
    finally:
        server.shutdown()
        server.server_close()


def paint_pictures(folder: Path, count: int = len(PICTURES)) -> list[dict[str, object]]:
    """Paint, process and save ``count`` pictures; their sizes and blurhashes."""
    generator = ProceduralGenerator(output_format="jpeg")
    painted = []
    for index, (prompt, style, *_rest) in enumerate(PICTURES[:count]):
        width, height = (768, 960) if index % 3 == 1 else (960, 768) if index % 3 == 2 else (896, 896)
        request = GenerationRequest(prompt=prompt, style=style, seed=1000 + index, width=width, height=height)
        image = generator.generate_sync(request)[0]
        processed = process_image_sync(image.data)
        (folder / f"{index}.jpg").write_bytes(processed.display.data)
        (folder / f"{index}-thumb.webp").write_bytes(processed.thumbnail.data)
        painted.append(
            {
                "width": processed.display.width,
                "height": processed.display.height,
                "blurhash": processed.blurhash,
                "alt": image.alt_text,
                "seed": 1000 + index,
                "style": style,
            }
        )
    return painted


def seed_remote_posts(database_url: str, server: PictureServer, *, follower: str | None = None) -> list[str]:
    """Store a remote account "mira" with one post per picture; ``follower`` (a local name) follows her."""
    painted = paint_pictures(server.folder)
    # A thread of its own: Playwright's sync API may already run an event loop on this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _store(database_url, server.base_url, painted, follower)).result()


async def _store(database_url: str, base_url: str, painted: list[dict[str, object]], follower: str | None) -> list[str]:
    database = Database(database_url)
    host = base_url.removeprefix("http://")
    actor_id = f"{base_url}/users/mira"
    now = utcnow()
    ids = []
    try:
        async with database.transaction() as session:
            actor = Actor(
                ap_id=actor_id,
                username="mira",
                domain=host,
                display_name="Mira Solène",
                summary_html="<p>Painting light with words. Lighthouses, forests, weather.</p>",
                url=f"{base_url}/@mira",
                inbox_url=f"{actor_id}/inbox",
                shared_inbox_url=f"{base_url}/inbox",
                followers_url=f"{actor_id}/followers",
                fetched_at=now,
                published=now,
            )
            session.add(actor)
            await session.flush()
            assert actor.id is not None
            for index, picture in enumerate(painted):
                prompt, style, emoji, word, caption = PICTURES[index]
                text, _, tag = caption.partition("#")
                content = (
                    f"<p>{text.strip()}"
                    + (
                        f' <a href="{base_url}/tags/{tag}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>'
                        if tag
                        else ""
                    )
                    + "</p>"
                )
                post = Post(
                    ap_id=f"{actor_id}/statuses/{index + 1}",
                    url=f"{base_url}/@mira/{index + 1}",
                    author_id=actor.id,
                    visibility=Visibility.PUBLIC,
                    content_html=content,
                    mood_word=f"{emoji} {word}",
                    generation={
                        "prompt": prompt,
                        "seed": picture["seed"],
                        "backend": "procedural",
                        "parameters": {"style": style},
                    },
                    published=now - timedelta(minutes=47 * (len(painted) - index)),
                )
                session.add(post)
                await session.flush()
                media = Media(
                    state=MediaState.REMOTE,
                    mime="image/jpeg",
                    remote_url=f"{base_url}/{index}.jpg",
                    width=int(str(picture["width"])),
                    height=int(str(picture["height"])),
                    blurhash=str(picture["blurhash"]),
                    alt_text=str(picture["alt"]),
                )
                session.add(media)
                await session.flush()
                session.add(PostMedia(post_id=post.id, media_id=media.id or 0, position=0))
                if tag:
                    session.add(PostTag(post_id=post.id, tag=tag))
                ids.append(post.ap_id)
            if follower is not None:
                local_id = await session.scalar(
                    select(Actor.id).where(Actor.username == follower, Actor.is_local.is_(True))
                )
                assert local_id is not None, f"no local account {follower!r}"
                session.add(
                    Follow(follower_id=local_id, followee_id=actor.id, state=FollowState.ACCEPTED, accepted_at=now)
                )
    finally:
        await database.dispose()
    return ids
