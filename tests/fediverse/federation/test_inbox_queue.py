"""The inbox worker records every outcome of a pass: applied, failed for good, or to be retried."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from starlette.testclient import TestClient

from storage.models import Account, InboxItem, WorkState
from tests.conftest import TEST_BASE_URL, run_in_app, services_of
from tests.fediverse.federation.conftest import drain, send_activity
from tests.peers import FakePeer


def test_one_pass_marks_applied_and_impossible_activities_apart(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given a harmless Like and an Update that tries to rewrite another actor, received together
    make_user("ana")
    ben = peer.add_actor("ben")
    liked = {"id": f"{peer.base_url}/likes/1", "type": "Like", "actor": ben.id, "object": f"{TEST_BASE_URL}/x"}
    forged = {
        "id": f"{peer.base_url}/updates/1",
        "type": "Update",
        "actor": ben.id,
        "object": {"id": f"{peer.base_url}/users/someone-else", "type": "Person"},
    }
    assert send_activity(client, peer, ben, liked) == 202
    assert send_activity(client, peer, ben, forged) == 202
    # When the worker runs
    drain(client)

    # Then the Like is done, the forgery failed for good with its reason, and neither is claimed any more
    async def load() -> dict[str, InboxItem]:
        async with services_of(client).db.session() as session:
            return {row.type: row for row in await session.scalars(select(InboxItem))}

    rows = run_in_app(client, load)
    assert (rows["Like"].state, rows["Like"].attempts, rows["Like"].processed_at is not None) == (
        WorkState.DONE,
        1,
        True,
    )
    assert (rows["Update"].state, rows["Update"].attempts) == (WorkState.FAILED, 1)
    assert "only update itself" in (rows["Update"].last_error or "")
    assert rows["Like"].locked_until is None and rows["Update"].locked_until is None
