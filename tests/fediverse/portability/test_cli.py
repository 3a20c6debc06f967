"""``reverie import|export|archive`` and ``reverie account delete|suspend|unsuspend`` as real processes, next to
a running app on the same database (peers are real servers on 127.0.0.1)."""

from __future__ import annotations

import json
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

from starlette.testclient import TestClient

from fediverse.core.config import Settings
from storage.models import Account
from tests.conftest import TEST_BASE_URL
from tests.fediverse.federation.conftest import AS2, drain, publish, remote_follows
from tests.peers import FakePeer
from tests.processes import run_reverie


def environment_of(settings: Settings) -> dict[str, str]:
    return {
        "REVERIE_BASE_URL": TEST_BASE_URL,
        "REVERIE_DATA_DIR": str(settings.data_dir),
        "REVERIE_DATABASE_URL": settings.database_url,
        "REVERIE_ALLOW_PRIVATE_ADDRESSES": "true",
    }


def test_import_then_export_from_a_terminal(
    client: TestClient, settings: Settings, peer: FakePeer, make_user: Callable[..., Account], tmp_path: Path
) -> None:
    make_user("ana")
    ben = peer.add_actor("ben")
    csv = tmp_path / "following_accounts.csv"
    csv.write_text(f"Account address,Show boosts,Notify on new posts,Languages\n{ben.handle},false,false,en\nzz@\n")
    env = environment_of(settings)
    imported = run_reverie("import", "ana", "following", str(csv), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "line 3: zz@: skipped: not an account address (user@server)" in imported.stdout
    assert "following import succeeded: 1 imported, 1 skipped of 2" in imported.stdout
    # The Follow is queued; the app's worker sends it
    drain(client)
    assert [item["object"] for item in peer.activities("Follow")] == [ben.id]
    exported = run_reverie("export", "ana", "following", env=env)
    assert exported.returncode == 0, exported.stderr
    assert (
        exported.stdout == f"Account address,Show boosts,Notify on new posts,Languages\n{ben.handle},false,false,en\n"
    )
    again = run_reverie("import", "ana", "following", str(csv), env=env)
    assert "1 imported, 1 skipped of 2" in again.stdout
    drain(client)
    assert len(peer.activities("Follow")) == 1  # nothing sent twice
    wrong = run_reverie("export", "ana", "passwords", env=env)
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr
    missing = run_reverie("import", "nobody", "blocks", str(csv), env=env)
    assert missing.returncode == 1 and "No local account" in missing.stderr and "Traceback" not in missing.stderr


def test_archive_from_a_terminal(
    client: TestClient, settings: Settings, make_user: Callable[..., Account], tmp_path: Path
) -> None:
    make_user("ana")
    publish(client, "ana", "a first light")
    target = tmp_path / "ana.zip"
    result = run_reverie("archive", "ana", str(target), env=environment_of(settings))
    assert result.returncode == 0, result.stderr
    assert "1 posts, 0 boosts, 0 pictures" in result.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with zipfile.ZipFile(target) as archive:
        outbox = json.loads(archive.read("outbox.json"))
    assert [item["object"]["content"] for item in outbox["orderedItems"]] == ["<p>a first light</p>"]


def test_account_suspend_unsuspend_and_delete_from_a_terminal(
    client: TestClient, settings: Settings, peer: FakePeer, make_user: Callable[..., Account]
) -> None:
    make_user("ana")
    document = client.get("/users/ana", headers=AS2).json()
    peer.trust(document)
    remote_follows(client, peer, peer.add_actor("ben"), "ana")
    env = environment_of(settings)
    suspended = run_reverie("account", "suspend", "ana", env=env)
    assert suspended.returncode == 0 and "is suspended" in suspended.stdout
    assert client.get("/users/ana", headers=AS2).status_code == 410
    assert run_reverie("account", "unsuspend", "ana", env=env).returncode == 0
    assert client.get("/users/ana", headers=AS2).status_code == 200
    unconfirmed = run_reverie("account", "delete", "ana", env=env)
    assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr
    deleted = run_reverie("account", "delete", "ana", "--yes", env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert "@ana is deleted" in deleted.stdout and "Delete is queued for 1 inbox(es)" in deleted.stdout
    drain(client)
    (delete,) = peer.activities("Delete")
    assert delete["object"] == document["id"]
    assert client.get("/users/ana", headers=AS2).status_code == 410
    again = run_reverie("account", "delete", "ana", "--yes", env=env)
    assert again.returncode == 1 and "already deleted" in again.stderr
    taken = run_reverie("user", "create", "ana", "--no-password", env=env)
    assert taken.returncode == 1 and "taken" in taken.stderr
