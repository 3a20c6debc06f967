"""Audit W8: images cost memory and disk.

(a) Twelve 40-megapixel uploads at once took a server to 2.4 GB: decoding runs under one process-wide
gate (``fediverse.imaging.decode_gate``), so at most ``MAX_CONCURRENT_DECODES`` images are decoded,
resized and encoded at once; the others wait their turn, coroutines on their loop and threads in place.
(b) A replaced avatar or header was kept for ever: now its row goes with the change and its files
right after (a crash in between leaves them to the housekeeping sweep's orphan walk).
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from starlette.testclient import TestClient

import fediverse.imaging.pipeline as pipeline
from fediverse.imaging import MAX_CONCURRENT_DECODES, ProcessedImage, decode_gate, process_image, process_image_sync
from storage.models import Account, Media
from tests.conftest import run_in_app, services_of
from tests.fediverse.web.conftest import BROWSER, make_member, sign_in

__all__ = ["make_member"]

#: Safety net only: how long a stuck test waits before failing (nothing waits this long when it works).
STUCK = 60


def picture(colour: tuple[int, int, int], size: tuple[int, int] = (300, 200)) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", size, colour).save(output, "JPEG")
    return output.getvalue()


def test_w8_no_more_than_two_images_decode_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given twelve images arriving at once: four uploads on an event loop, eight on threads of their own,
    # and every decode held until all twelve have arrived
    release = threading.Event()
    inside, most, lock = 0, 0, threading.Lock()
    decode = pipeline.decode_image

    def held_decode(*args: Any, **options: Any) -> Any:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        release.wait(STUCK)
        try:
            return decode(*args, **options)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(pipeline, "decode_image", held_decode)
    data = picture((90, 140, 200))
    results: list[ProcessedImage] = []

    async def uploads() -> None:
        results.extend(await asyncio.gather(*(process_image(data) for _ in range(4))))

    callers = [threading.Thread(target=lambda: asyncio.run(uploads()))]
    callers += [threading.Thread(target=lambda: results.append(process_image_sync(data))) for _ in range(8)]
    for caller in callers:
        caller.start()
    try:
        # When all twelve are either decoding or waiting their turn
        assert decode_gate.wait_until(lambda gate: gate.running + gate.waiting == 12, STUCK)
        # Then only two are decoding
        assert (decode_gate.running, decode_gate.waiting) == (MAX_CONCURRENT_DECODES, 12 - MAX_CONCURRENT_DECODES)
    finally:
        release.set()
        for caller in callers:
            caller.join(STUCK)
    # And each of the twelve was decoded in its turn, never more than two at once
    assert len(results) == 12 and all(result.width == 300 for result in results)
    assert most <= MAX_CONCURRENT_DECODES
    assert (decode_gate.running, decode_gate.waiting) == (0, 0)


def _profile_files(client: TestClient, username: str) -> tuple[set[str], set[str]]:
    """The file keys of the account's avatar and of its header."""

    async def load() -> tuple[set[str], set[str]]:
        async with services_of(client).db.session() as session:
            account = await session.scalar(select(Account).where(Account.username == username))
            assert account is not None
            found = []
            for media_id in (account.avatar_media_id, account.header_media_id):
                media = await session.get(Media, media_id) if media_id is not None else None
                found.append({key for key in (media.original_key, media.display_key, media.thumbnail_key) if key}
                             if media else set())  # fmt: skip
            return found[0], found[1]

    return run_in_app(client, load)


def test_w8_replaced_avatars_and_headers_are_deleted(client: TestClient, make_member: Callable[..., Account]) -> None:
    # Given ana, signed in, with an avatar and a header chosen on the settings page
    make_member("ana")
    token = sign_in(client, "ana")
    media_dir = services_of(client).settings.media_dir

    def choose(**images: tuple[int, int, int]) -> None:
        files = {field: (f"{field}.jpg", picture(colour), "image/jpeg") for field, colour in images.items()}
        response = client.post(
            "/settings/profile", data={"csrf_token": token, "display_name": "Ana", "bio": ""}, files=files,
            headers=BROWSER,
        )  # fmt: skip
        assert response.status_code == 200 and "Saved" in response.text

    choose(avatar=(200, 30, 30), header=(30, 200, 30))
    first_avatar, first_header = _profile_files(client, "ana")
    # When she replaces her avatar twice, and her header once
    choose(avatar=(30, 30, 200), header=(200, 200, 30))
    second_avatar, second_header = _profile_files(client, "ana")
    choose(avatar=(120, 60, 160))
    third_avatar, header_now = _profile_files(client, "ana")
    # Then the replaced files answer 404 and are gone from the media folder
    replaced = first_avatar | first_header | second_avatar
    assert replaced and not replaced & (third_avatar | header_now)
    for key in replaced:
        assert client.get(f"/media/{key}").status_code == 404, key
        assert not (media_dir / key).exists(), key
    # And the ones in use are still served
    assert header_now == second_header
    for key in third_avatar | header_now:
        assert client.get(f"/media/{key}").status_code == 200, key
    # And choosing the same picture again keeps its (shared) files
    choose(avatar=(120, 60, 160))
    again, _ = _profile_files(client, "ana")
    assert again == third_avatar and all(client.get(f"/media/{key}").status_code == 200 for key in again)
