"""CSV imports in Mastodon's formats, resolved through WebFinger on real peers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import select
from starlette.testclient import TestClient

from fediverse.portability.imports import STEP_ROWS, create_import, run_import_step
from fediverse.services import Services
from storage.claims import claim_due
from storage.models import (
    Account,
    AccountDomainBlock,
    AccountJob,
    Actor,
    Block,
    Follow,
    ImportRowState,
    ImportType,
    JobState,
    Mute,
)
from storage.types import utcnow
from tests.conftest import run_in_app, services_of
from tests.fediverse.federation.conftest import AS2, drain, publish, query, remote_note
from tests.fediverse.portability.conftest import export, import_csv, job_row, rows_of
from tests.peers import FakePeer

SKIPPED, IMPORTED = ImportRowState.SKIPPED, ImportRowState.IMPORTED


def test_a_mastodon_following_csv_is_resolved_through_webfinger_and_followed(
    client: TestClient, peer: FakePeer, other_peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    # Given ana, and a following export from Mastodon naming accounts on two servers, one that does not exist
    # there and a line that is no address at all
    make_user("ana")
    ana = client.get("/users/ana", headers=AS2).json()
    peer.trust(ana)
    other_peer.trust(ana)
    ben, cy = peer.add_actor("ben"), peer.add_actor("cy", key_index=1)
    dee = other_peer.add_actor("dee", key_index=2)
    csv = (
        "Account address,Show boosts,Notify on new posts,Languages\n"
        f"{ben.handle},true,false,\n"
        f'@{dee.handle},false,true,"en, de"\n'
        f"ghost@{peer.host},true,false,\n"
        "not an address,true,false,\n"
        f"{cy.handle},true,false,\n"
    )
    # When the import runs
    job = import_csv(client, "ana", "following", csv)
    # Then the three accounts were found through WebFinger, and each got a signed Follow from ana
    assert job.state == JobState.SUCCEEDED
    assert (job.total_items, job.processed_items, job.imported_items, job.skipped_items) == (5, 5, 3, 2)
    rows = rows_of(client, job.id)
    assert rows[2] == rows[3] == rows[6] == (IMPORTED, None)
    assert rows[4][0] == SKIPPED and "does not know this account" in (rows[4][1] or "")
    assert rows[5] == (SKIPPED, "not an account address (user@server)")
    follows = [post for post in peer.posts() + other_peer.posts() if post.activity["type"] == "Follow"]
    assert sorted(post.activity["object"] for post in follows) == sorted([ben.id, cy.id, dee.id])
    assert all(post.signature_ok for post in follows)
    # and the columns Mastodon carries are kept with each follow
    kept = query(
        client,
        select(Actor.username, Follow.show_boosts, Follow.notify, Follow.languages).join(
            Follow, Follow.followee_id == Actor.id
        ),
    )
    assert sorted(tuple(row) for row in kept) == [
        ("ben", True, False, None),
        ("cy", True, False, None),
        ("dee", False, True, ["en", "de"]),
    ]
    # When the same file is imported again
    again = import_csv(client, "ana", "following", csv)
    # Then nothing new is sent and nothing is doubled: the rows are already so
    assert (again.imported_items, again.skipped_items) == (3, 2)
    assert len([post for post in peer.posts() + other_peer.posts() if post.activity["type"] == "Follow"]) == 3
    assert len(query(client, select(Follow.id))) == 3
    # And ana's export, imported by bob, gives bob the same follows with the same choices (the round trip)
    make_user("bob")
    exported = export(client, "ana", "following")
    assert import_csv(client, "bob", "following", exported).imported_items == 3
    assert sorted(export(client, "bob", "following").splitlines()) == sorted(exported.splitlines())
    assert len(query(client, select(Follow.id))) == 6


def test_blocks_mutes_and_domain_blocks_import_and_export_back_the_same(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    make_user("bob")
    ben, cy = peer.add_actor("ben"), peer.add_actor("cy", key_index=1)
    blocks = f"{ben.handle}\nbob@127.0.0.1:8765\n"
    mutes = f"Account address,Hide notifications\n{cy.handle},false\n{ben.handle},true\n"
    domains = "spam.example\nBAD.Example\n\nnot a domain!\n"
    assert import_csv(client, "ana", "blocks", blocks).imported_items == 2
    assert import_csv(client, "ana", "mutes", mutes).imported_items == 2
    domain_job = import_csv(client, "ana", "domain-blocks", domains)
    assert (domain_job.imported_items, domain_job.skipped_items) == (2, 1)
    assert sorted(row[0] for row in query(client, select(AccountDomainBlock.domain))) == [
        "bad.example",
        "spam.example",
    ]
    # The exports read back as the files Mastodon writes
    assert sorted(export(client, "ana", "blocks").splitlines()) == sorted([ben.handle, "bob@127.0.0.1:8765"])
    assert export(client, "ana", "mutes").splitlines()[0] == "Account address,Hide notifications"
    assert sorted(export(client, "ana", "mutes").splitlines()[1:]) == [f"{ben.handle},true", f"{cy.handle},false"]
    assert export(client, "ana", "domain-blocks") == "bad.example\nspam.example\n"
    # and imported into another account, they give the same exports (the round trip)
    for kind in ("mutes", "domain-blocks"):
        import_csv(client, "bob", kind, export(client, "ana", kind))
        assert sorted(export(client, "bob", kind).splitlines()) == sorted(export(client, "ana", kind).splitlines())
    assert len(query(client, select(Block.id))) == 2 and len(query(client, select(Mute.id))) == 4


def test_overwrite_removes_what_the_file_does_not_name(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    ben, cy = peer.add_actor("ben"), peer.add_actor("cy", key_index=1)
    import_csv(client, "ana", "blocks", f"{ben.handle}\n{cy.handle}\n")
    job = import_csv(client, "ana", "blocks", f"{cy.handle}\n", overwrite=True)
    assert job.state == JobState.SUCCEEDED
    assert export(client, "ana", "blocks") == f"{cy.handle}\n"
    undone = [activity for activity in (post.activity for post in peer.posts()) if activity["type"] == "Undo"]
    assert [activity["object"]["object"] for activity in undone] == [ben.id]


def test_bookmarks_are_fetched_from_their_servers_and_only_posts_one_may_see_are_kept(
    client: TestClient, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    make_user("cleo")
    ben = peer.add_actor("ben")
    unknown = remote_note(ben, 3, "<p>never seen here before</p>")
    peer.add_object(unknown)
    public = publish(client, "cleo", "for everyone")
    hidden = publish(client, "cleo", "for cleo's followers", visibility="followers")
    lines = [unknown["id"], public.url or public.ap_id, hidden.ap_id, f"{ben.id}/statuses/404"]
    job = import_csv(client, "ana", "bookmarks", "\n".join(lines) + "\n")
    rows = rows_of(client, job.id)
    assert [rows[line][0] for line in (1, 2, 3, 4)] == [IMPORTED, IMPORTED, SKIPPED, SKIPPED]
    assert rows[3][1] == "no such post, or not one you may see"
    assert [get.path for get in peer.fetched] == ["/users/ben/statuses/3", "/users/ben/statuses/404"]
    assert sorted(export(client, "ana", "bookmarks").splitlines()) == sorted([unknown["id"], public.ap_id])
    # Overwrite keeps only what the file names
    import_csv(client, "ana", "bookmarks", f"{public.ap_id}\n", overwrite=True)
    assert export(client, "ana", "bookmarks") == f"{public.ap_id}\n"


def test_an_import_left_by_a_crashed_worker_is_carried_on_without_repeating_a_row(
    client: TestClient, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    services = services_of(client)
    domains = "".join(f"server{number}.example\n" for number in range(60))
    job = run_in_app(client, create_import, services.db, "ana", ImportType.DOMAIN_BLOCKS, domains.encode())

    async def crash_after_one_step() -> None:  # a worker claims the job, does one step, and dies holding it
        async with services.db.transaction() as session:
            (claimed,) = await claim_due(session, AccountJob, limit=1, lock_for=timedelta(minutes=5))
        await run_import_step(services, claimed.id or 0)

    run_in_app(client, crash_after_one_step)
    drain(client)  # the lease has not lapsed: nobody touches the job
    assert job_row(client, job.id).processed_items == STEP_ROWS
    run_in_app(client, lapse_leases, services)
    drain(client)
    finished = job_row(client, job.id)
    assert (finished.state, finished.imported_items, finished.skipped_items) == (JobState.SUCCEEDED, 60, 0)
    assert len(query(client, select(AccountDomainBlock.domain))) == 60


async def lapse_leases(services: Services) -> None:
    async with services.db.transaction() as session:
        await session.execute(update(AccountJob).values(locked_until=utcnow() - timedelta(seconds=1)))
