"""Asking for images: a JSON request checked against the generator, a queued job, its status, its cancel.

Nothing here paints; the worker (``fediverse.studio.generation_queue``) runs queued jobs.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from fediverse.core.errors import BadRequest, Conflict, NotFound, TooManyRequests
from fediverse.generation import Capabilities, GenerationRequest, InvalidRequestError, validate_request
from fediverse.services import Services
from fediverse.studio.drafts import check_draft_room
from fediverse.studio.events import CANCELLED, QUEUED, append_event
from storage.models import Account, GenerationJob, JobState
from storage.types import utcnow

#: How long a claim on a job lasts without a heartbeat; a worker that dies lets it lapse.
LEASE = timedelta(seconds=30)
QUEUE_NAME = "generation"
MAX_ID_LENGTH = 2048
ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)
FINISHED_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


def default_size(capabilities: Capabilities) -> tuple[int, int]:
    """1024x1024 where the backend offers it, else its first size."""
    if (1024, 1024) in capabilities.sizes or (
        capabilities.arbitrary_sizes and capabilities.max_side >= 1024 and capabilities.max_pixels >= 1024 * 1024
    ):
        return 1024, 1024
    return capabilities.sizes[0]


def capabilities_json(backend: str, capabilities: Capabilities) -> dict[str, Any]:
    width, height = default_size(capabilities)
    return {
        "backend": backend,
        "styles": list(capabilities.styles),
        "sizes": [list(size) for size in capabilities.sizes],
        "max_side": capabilities.max_side,
        "max_variants": capabilities.max_variants,
        "supports_seed": capabilities.supports_seed,
        "supports_negative_prompt": capabilities.supports_negative_prompt,
        "supports_steps": capabilities.supports_steps,
        "default_width": width,
        "default_height": height,
    }


def read_generation_request(body: Any, capabilities: Capabilities) -> GenerationRequest:
    """The request in a JSON body, checked against this backend's limits (``BadRequest`` says what is wrong)."""
    if not isinstance(body, dict):
        raise BadRequest("Send a JSON object.")
    width, height = default_size(capabilities)
    remix_of = _optional(body, "remix_of", str)
    if remix_of is not None and (len(remix_of) > MAX_ID_LENGTH or not remix_of.startswith(("https://", "http://"))):
        raise BadRequest("remix_of must be the address of a post.")
    request = GenerationRequest(
        prompt=_optional(body, "prompt", str) or "",
        negative_prompt=_optional(body, "negative_prompt", str) or "",
        style=_optional(body, "style", str) or None,
        seed=_optional(body, "seed", int),
        width=_given(_optional(body, "width", int), width),
        height=_given(_optional(body, "height", int), height),
        steps=_optional(body, "steps", int),
        variants=_given(_optional(body, "variants", int), 1),
        remix_of=remix_of,
    )
    try:
        validate_request(request, capabilities)
    except InvalidRequestError as error:
        raise BadRequest(str(error)) from error
    return request


def _given(value: int | None, default: int) -> int:
    return default if value is None else value


def _optional(body: dict[str, Any], name: str, kind: type[str] | type[int]) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadRequest(f"{name} must be {'text' if kind is str else 'a whole number'}.")
    return value


async def create_job(
    services: Services, account: Account, request: GenerationRequest, *, claimed: bool = False
) -> GenerationJob:
    """Queue a job (429 beyond the account's allowance). ``claimed``: the caller runs it itself (the CLI),
    so no worker picks it up."""
    options = services.studio.options
    assert account.id is not None
    async with services.db.transaction() as session:
        await session.get(Account, account.id, with_for_update=True)  # one account's submissions in turn
        active = await session.scalar(
            select(func.count())
            .select_from(GenerationJob)
            .where(col(GenerationJob.account_id) == account.id, col(GenerationJob.state).in_(ACTIVE_STATES))
        )
        if (active or 0) >= options.queue_limit:
            raise TooManyRequests(
                f"You already have {active} images on the easel; wait for one to finish.", retry_after=10
            )
        await check_draft_room(session, account.id, options.max_drafts)
        job = GenerationJob(
            account_id=account.id,
            backend=services.studio.generator.name,
            request=asdict(request),
            locked_until=utcnow() + LEASE if claimed else None,
        )
        session.add(job)
        await session.flush()
        assert job.id is not None
        await append_event(session, job.id, QUEUED, {})
    if not claimed:
        services.wake_worker(QUEUE_NAME)
    return job


async def _own_job(session: AsyncSession, account: Account, job_id: int, *, lock: bool = False) -> GenerationJob:
    job = await session.get(GenerationJob, job_id, with_for_update=lock)
    if job is None or job.account_id != account.id:
        raise NotFound("No such generation job.")
    return job


async def load_job(services: Services, account: Account, job_id: int) -> GenerationJob:
    async with services.db.session() as session:
        return await _own_job(session, account, job_id)


async def cancel_job(services: Services, account: Account, job_id: int) -> str:
    """Cancel at once when queued; ask the worker to stop when running. The job's state afterwards."""
    async with services.db.transaction() as session:
        job = await _own_job(session, account, job_id, lock=True)
        if job.state == JobState.QUEUED:
            job.state, job.finished_at, job.locked_until = JobState.CANCELLED, utcnow(), None
            await append_event(session, job_id, CANCELLED, {})
        elif job.state == JobState.RUNNING:
            job.cancel_requested = True
        elif job.state != JobState.CANCELLED:
            raise Conflict(f"This job has already {'finished' if job.state == JobState.SUCCEEDED else 'failed'}.")
        return job.state
