"""Explicit conditions, for merchandisers: "a red striped dress, 4 variations"."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool

from pigen.service.api.deps import ImagesDep, SettingsDep, WriteAccess
from pigen.service.api.images import image_public
from pigen.service.api.schemas.images import GeneratedImages, GenerateRequest

router = APIRouter(prefix="/generate", tags=["generate"], dependencies=[WriteAccess])


@router.post("", response_model=GeneratedImages)
async def generate(body: GenerateRequest, images: ImagesDep, settings: SettingsDep
                   ) -> GeneratedImages:
    """Images of the given conditions; URLs at once, pixels on first fetch."""
    total = sum(c.n for c in body.conditions)
    if total > settings.max_images_per_request:
        raise HTTPException(422, f"{total} images asked for; at most "
                                 f"{settings.max_images_per_request} per request")
    conditions = [(c.category, _rgb(c.colour), c.pattern, c.seed, c.n) for c in body.conditions]
    try:
        made = await run_in_threadpool(images.explicit_images, conditions)
    except ValueError as error:  # unknown category or pattern: say which, and what exists
        layout = images.runtime.current.generator.layout
        raise HTTPException(422, f"{error}; categories: {', '.join(layout.categories)}; "
                                 f"patterns: {', '.join(layout.patterns)}") from None
    return GeneratedImages(images=[image_public(m) for m in made])


def _rgb(colour: str) -> tuple[float, float, float]:
    return (int(colour[1:3], 16) / 255, int(colour[3:5], 16) / 255, int(colour[5:7], 16) / 255)
