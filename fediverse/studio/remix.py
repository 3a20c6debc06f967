"""Remix recipes: the prompt and seed of a post (ours, or another Reverie's over federation), made into a
request this instance's generator accepts.

Values the local backend cannot take (a seed for a backend without seeds, an unknown style, a size it
does not offer) come back as ``null`` so the prefilled form is valid as it stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fediverse.core.errors import NotFound
from fediverse.core.visibility import can_see
from fediverse.generation import Capabilities, GenerationRequest, InvalidRequestError, validate_request
from fediverse.generation.base import MAX_PROMPT_CHARS
from fediverse.services import Services
from fediverse.social.actions import find_post
from storage.models import Account, Post, Visibility


async def remix_recipe(services: Services, account: Account, reference: str) -> dict[str, Any]:
    """``{"prompt", "negative_prompt", "seed", "style", "width", "height", "remix_of"}`` for a post."""
    post = await find_post(services, reference)
    async with services.db.session() as session:
        visible = await can_see(session, post, account.actor_id)  # a post across a block is missing
    private = post.visibility in (Visibility.FOLLOWERS, Visibility.DIRECT) and post.author_id != account.actor_id
    prompt = (post.generation or {}).get("prompt")
    if not visible or private or post.hide_prompt or not isinstance(prompt, str) or not prompt.strip():
        raise NotFound("This post has no prompt to remix.")
    return recipe_for(post, services.studio.generator.capabilities)


def recipe_for(post: Post, capabilities: Capabilities) -> dict[str, Any]:
    generation: Mapping[str, Any] = post.generation or {}
    raw_parameters = generation.get("parameters")
    parameters: Mapping[str, Any] = raw_parameters if isinstance(raw_parameters, Mapping) else {}
    recipe: dict[str, Any] = {
        "prompt": str(generation["prompt"])[:MAX_PROMPT_CHARS],
        "negative_prompt": _text(generation.get("negativePrompt")) or _text(parameters.get("negative_prompt")),
        "seed": _whole(generation.get("seed")),
        "style": _text(parameters.get("style")) or None,
        "width": _whole(parameters.get("width")) or _size(parameters.get("size"))[0],
        "height": _whole(parameters.get("height")) or _size(parameters.get("size"))[1],
        "remix_of": post.ap_id,
    }
    if recipe["style"] not in capabilities.styles:
        recipe["style"] = None
    for name, unsupported in (
        ("seed", not capabilities.supports_seed),
        ("negative_prompt", not capabilities.supports_negative_prompt),
    ):
        if unsupported:
            recipe[name] = None if name == "seed" else ""
    if not _accepts(recipe, capabilities):
        recipe["width"] = recipe["height"] = None
    return recipe


def _accepts(recipe: Mapping[str, Any], capabilities: Capabilities) -> bool:
    if recipe["width"] is None or recipe["height"] is None:
        return False
    request = GenerationRequest(
        prompt=recipe["prompt"],
        negative_prompt=recipe["negative_prompt"],
        seed=recipe["seed"],
        width=recipe["width"],
        height=recipe["height"],
    )
    try:
        validate_request(request, capabilities)
    except InvalidRequestError:
        return False
    return True


def _size(value: Any) -> tuple[int | None, int | None]:
    """``"1536x1024"`` (OpenAI's size parameter) as numbers."""
    width, _, height = value.partition("x") if isinstance(value, str) else ("", "", "")
    if width.isdigit() and height.isdigit() and len(width) < 6 and len(height) < 6:
        return int(width), int(height)
    return None, None


def _text(value: Any) -> str:
    return value[:MAX_PROMPT_CHARS] if isinstance(value, str) else ""


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32 else None
