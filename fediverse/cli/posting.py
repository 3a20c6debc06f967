"""``reverie post NAME --prompt ...``: paint in this process with a progress bar, publish, and send it off.

Running the command is the author saying "publish": the images go out as one post at once. The job is a
normal ``GenerationJob`` (claimed by this process, so a running worker leaves it alone); deliveries are
sent right away, and whatever cannot be delivered yet stays queued for the server's worker.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlmodel import col

from fediverse.core.config import load_settings
from fediverse.core.errors import ReverieError
from fediverse.federation.delivery_queue import DeliveryQueue
from fediverse.generation import Progress
from fediverse.services import Services, open_services
from fediverse.social import actions
from fediverse.studio.drafts import load_job_media
from fediverse.studio.execution import execute_job
from fediverse.studio.publishing import Composition, publish_composition, split_mood
from fediverse.studio.submission import create_job, load_job, read_generation_request
from storage.models import Delivery, JobState, OutboxActivity, Post, Visibility, WorkState

#: Delivery passes the command makes before leaving the rest to the worker.
DELIVERY_PASSES = 3


def register(commands: Any) -> None:
    post = commands.add_parser(
        "post",
        help="generate images from a prompt and publish them",
        description="Generate images from a prompt (with a progress bar) and publish them as NAME. "
        "Prints the new post's address.",
    )
    post.add_argument("name", help="the local account posting")
    post.add_argument("--prompt", required=True, help="what to paint")
    post.add_argument("--negative-prompt", default="", help="what to keep out of the picture")
    post.add_argument("--style", help="a style the generator offers (see the web UI or `--style help`)")
    post.add_argument("--seed", type=int, help="a seed, to paint the same picture again")
    post.add_argument("--size", metavar="WxH", help="image size, e.g. 1024x1024 (default: the generator's)")
    post.add_argument("--variants", type=int, default=1, help="how many images (1-4, default 1)")
    post.add_argument("--caption", default="", help="the text of the post (#hashtags and @mentions work)")
    post.add_argument("--mood", default="", help='a mood: an emoji and a word, e.g. "🌧 melancholy"')
    post.add_argument("--content-warning", default="", help="hide the post behind this warning")
    post.add_argument(
        "--visibility", default=Visibility.PUBLIC, choices=[v.value for v in Visibility], help="default: public"
    )
    post.add_argument("--hide-prompt", action="store_true", help="keep the prompt out of the post and its files")
    post.set_defaults(handler=run_post)


def run_post(arguments: argparse.Namespace) -> int:
    url = asyncio.run(post_from_terminal(arguments, sys.stderr))
    print(url)
    return 0


async def post_from_terminal(arguments: argparse.Namespace, out: TextIO) -> str:
    """Generate, publish and deliver; the post's address."""
    async with open_services(load_settings()) as services:
        account, _ = await actions.load_account(services, arguments.name)
        await actions.ensure_can_post(services, arguments.name)  # a moved account: refused before painting
        generator = services.studio.generator
        request = read_generation_request(_request_body(arguments), generator.capabilities)
        job = await create_job(services, account, request, claimed=True)
        assert job.id is not None
        bar = ProgressBar(out)
        state = await execute_job(services, job.id, listener=bar.show)
        bar.close()
        if state != JobState.SUCCEEDED:
            finished = await load_job(services, account, job.id)
            raise ReverieError(finished.error or "The job did not finish.")
        media = await load_job_media(services.db, job.id)
        emoji, word = split_mood(arguments.mood)
        composition = Composition(
            media_ids=tuple(item.id for item in media if item.id is not None),
            caption=arguments.caption,
            mood_emoji=emoji,
            mood_word=word,
            content_warning=arguments.content_warning,
            visibility=arguments.visibility,
            hide_prompt=arguments.hide_prompt,
        )
        post = await publish_composition(services, account, composition)
        sent, waiting = await deliver_now(services, post)
        left = f", {waiting} left for the worker" if waiting else ""
        print(f"Published; delivered to {sent} inbox(es){left}.", file=out)
        return post.url or post.ap_id


def _request_body(arguments: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt": arguments.prompt,
        "negative_prompt": arguments.negative_prompt,
        "style": arguments.style,
        "seed": arguments.seed,
        "variants": arguments.variants,
    }
    if arguments.size:
        width, _, height = arguments.size.lower().partition("x")
        if not (width.isdigit() and height.isdigit()):
            raise ReverieError(f"--size looks like 1024x1024, not {arguments.size!r}.")
        body.update(width=int(width), height=int(height))
    return body


async def deliver_now(services: Services, post: Post) -> tuple[int, int]:
    """Send the post's deliveries from here; (sent, still waiting). Failures wait for the worker's retries."""
    queue = DeliveryQueue(services)
    try:
        for _ in range(DELIVERY_PASSES):
            if await _count_deliveries(services, post, WorkState.QUEUED) == 0 or await queue.run_once() == 0:
                break
    finally:
        await queue.aclose()
    return await _count_deliveries(services, post, WorkState.DONE), await _count_deliveries(
        services, post, WorkState.QUEUED
    )


async def _count_deliveries(services: Services, post: Post, state: str) -> int:
    async with services.db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .join(OutboxActivity, col(OutboxActivity.id) == col(Delivery.activity_id))
            .where(col(OutboxActivity.object_ap_id) == post.ap_id, col(Delivery.state) == state)
        )
    return count or 0


class ProgressBar:
    """A one-line bar on a terminal; on a pipe or log, a line per quarter so logs stay short."""

    WIDTH = 30

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.interactive = out.isatty()
        self.last_quarter = -1

    def show(self, progress: Progress) -> None:
        share = progress.step / progress.total if progress.total else 0.0
        if self.interactive:
            filled = round(share * self.WIDTH)
            bar = "█" * filled + "░" * (self.WIDTH - filled)
            self.out.write(f"\r{bar} {share:4.0%} {progress.stage:<12}")
            self.out.flush()
            return
        quarter = int(share * 4)
        if quarter != self.last_quarter:
            self.last_quarter = quarter
            print(f"painting: {share:.0%} ({progress.stage})", file=self.out, flush=True)

    def close(self) -> None:
        if self.interactive:
            self.out.write("\n")
            self.out.flush()
