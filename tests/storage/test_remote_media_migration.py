"""Migration 0020 (decision 0059): remote actors known before it get media rows for their avatar and header, so
pages show those from our origin (fetched on first view) instead of hotlinking them; the counters' triggers
on ``actors`` survive the new columns; and it goes down again cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.db import Database, alembic_config

SEED = [
    "INSERT INTO actors (id, ap_id, type, username, domain, is_local, display_name, summary_html, inbox_url, "
    "icon_url, header_url, manually_approves_followers, discoverable, indexable, created_at, updated_at) VALUES "
    "(901, 'https://a.example/u/a', 'Person', 'a', 'a.example', FALSE, '', '', 'https://a.example/i', "
    "'https://cdn.a.example/a.png', 'https://cdn.a.example/a-header.jpg', FALSE, FALSE, FALSE, "
    "'2026-01-01 00:00:00', '2026-01-01 00:00:00'), "
    "(902, 'https://a.example/u/b', 'Person', 'b', 'a.example', FALSE, '', '', 'https://a.example/i', "
    "NULL, NULL, FALSE, FALSE, FALSE, '2026-01-01 00:00:00', '2026-01-01 00:00:00'), "
    "(903, 'http://127.0.0.1:8765/users/c', 'Person', 'c', '127.0.0.1:8765', TRUE, '', '', "
    "'http://127.0.0.1:8765/users/c/inbox', 'http://127.0.0.1:8765/media/ab/cd/x.png', NULL, FALSE, FALSE, FALSE, "
    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')",
]


def _migrate_with_data(connection: Connection) -> dict[str, Any]:
    command.downgrade(alembic_config(connection), "0019")
    for statement in SEED:
        connection.execute(text(statement))
    command.upgrade(alembic_config(connection), "head")
    actors = connection.execute(
        text("SELECT id, avatar_media_id, header_media_id FROM actors WHERE id > 900 ORDER BY id")
    ).all()
    media = {
        media_id: url
        for media_id, url in connection.execute(text("SELECT id, remote_url FROM media WHERE state = 'remote'"))
    }
    connection.execute(
        text(
            "INSERT INTO posts (id, ap_id, author_id, is_local, visibility, content_html, sensitive, hide_prompt, "
            "likes_count, boosts_count, replies_count, published, created_at) VALUES (11, 'https://a.example/p/11', "
            "901, FALSE, 'public', '', FALSE, FALSE, 0, 0, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
    )
    posts_count = connection.execute(text("SELECT posts_count FROM actors WHERE id = 901")).scalar_one()
    connection.execute(text("DELETE FROM posts WHERE id = 11"))
    command.downgrade(alembic_config(connection), "0019")
    columns_after_downgrade = connection.execute(text("SELECT * FROM actors WHERE id = 901")).keys()
    command.upgrade(alembic_config(connection), "head")
    return {
        "actors": [tuple(row) for row in actors],
        "media": media,
        "posts_count": posts_count,
        "columns_after_downgrade": list(columns_after_downgrade),
    }


def test_remote_actors_known_before_the_cache_get_rows_for_their_images(database_url: str) -> None:
    async def run() -> dict[str, Any]:
        database = Database(database_url)
        try:
            async with database.writer_engine.begin() as connection:
                return await connection.run_sync(_migrate_with_data)
        finally:
            await database.dispose()

    found = asyncio.run(run())
    (a, avatar, header), (b, *nothing), (c, *local) = found["actors"]
    assert (a, b, c) == (901, 902, 903)
    assert found["media"][avatar] == "https://cdn.a.example/a.png"
    assert found["media"][header] == "https://cdn.a.example/a-header.jpg"
    assert nothing == [None, None]  # no images, no rows
    assert local == [None, None]  # a local account's images are its own files (its Account's rows)
    assert len(found["media"]) == 2
    assert found["posts_count"] == 1  # the counters' triggers on actors still run
    assert "avatar_media_id" not in found["columns_after_downgrade"]
