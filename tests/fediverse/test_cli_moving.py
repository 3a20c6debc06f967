"""``reverie alias add|remove|list`` and ``reverie move``, run as real processes against a Mastodon-shaped
peer on 127.0.0.1 (decision 0061)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storage.db import Database
from storage.models import Actor, OutboxActivity
from tests.peers import running_peer
from tests.processes import run_reverie

ANA = "http://127.0.0.1:8000/users/ana"


def read(database_url: str, statement: Any) -> list[Any]:
    async def run() -> list[Any]:
        database = Database(database_url)
        try:
            async with database.session() as session:
                return list((await session.execute(statement)).all())
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_aliases_and_a_move_from_a_terminal(tmp_path: Path, database_url: str) -> None:
    env = {
        "REVERIE_DATA_DIR": str(tmp_path),
        "REVERIE_DATABASE_URL": database_url,
        "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
    }
    assert run_reverie("user", "create", "ana", "--no-password", env=env).returncode == 0
    with running_peer() as peer:
        old = peer.add_actor("ana_old")
        # An alias is added by its address (WebFinger on the peer), listed, and removed
        added = run_reverie("alias", "add", "ana", f"@ana_old@{peer.host}", env=env)
        assert added.returncode == 0, added.stderr
        assert f"alias @ana_old@{peer.host} ({old.id}) added" in added.stdout
        listed = run_reverie("alias", "list", "ana", env=env)
        assert listed.stdout.split() == [f"@ana_old@{peer.host}", old.id]
        removed = run_reverie("alias", "remove", "ana", f"@ana_old@{peer.host}", env=env)
        assert removed.returncode == 0, removed.stderr
        assert run_reverie("alias", "list", "ana", env=env).stdout.strip() == ""
        # An address nobody answers for is a plain error
        unknown = run_reverie("alias", "add", "ana", f"@nobody@{peer.host}", env=env)
        assert unknown.returncode == 1 and "could not be looked up" in unknown.stderr
        assert "Traceback" not in unknown.stderr
        # A move to an account that does not list ana is refused, saying what to do
        zoe = peer.add_actor("zoe", 1)
        refused = run_reverie("move", "ana", f"@zoe@{peer.host}", env=env)
        assert refused.returncode == 1 and "does not list this account as an alias" in refused.stderr
        # Once zoe lists ana, ana moves
        zoe.extra["alsoKnownAs"] = [ANA]
        moved = run_reverie("move", "ana", f"@zoe@{peer.host}", env=env)
        assert moved.returncode == 0, moved.stderr
        assert f"@ana: moved to @zoe@{peer.host}" in moved.stdout
    assert read(database_url, select(Actor.moved_to_ap_id).where(Actor.ap_id == ANA)) == [(zoe.id,)]
    (move,) = read(database_url, select(OutboxActivity.payload).where(OutboxActivity.type == "Move"))
    assert (move[0]["object"], move[0]["target"]) == (ANA, zoe.id)
    # And ana can no longer post from the terminal either
    post = run_reverie("post", "ana", "--prompt", "a last picture", env=env)
    assert post.returncode == 1 and "has moved" in post.stderr
