"""Personalised images: the list for a shopper, and the image bytes (made once, cached)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Response
from fastapi import Path as PathParam
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from pigen.service.api.conditional import none_match
from pigen.service.api.deps import EngineDep, ImagesDep, ReadAccess, RuntimeDep, SettingsDep
from pigen.service.api.items import item_public
from pigen.service.api.schemas.images import (
    ConditionPublic,
    ContributingItem,
    Explanation,
    ImagePublic,
    UserImages,
)
from pigen.service.api.users import UserIdPath
from pigen.service.experiments import serving
from pigen.service.explanations import Reasons, catalog_picks, explain
from pigen.service.imaging import MadeImage
from pigen.service.model_loading import ModelLoadError
from pigen.service.runtime import Runtime

router = APIRouter(tags=["images"], dependencies=[ReadAccess])

ImageIdPath = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$",
                                       description="An opaque image id from an image list.")]
#: Generated images never change under their id: cache them anywhere, for a year.
IMMUTABLE = "public, max-age=31536000, immutable"


def colour_hex(rgb: list[float]) -> str:
    return "#" + "".join(f"{round(min(max(c, 0.0), 1.0) * 255):02x}" for c in rgb)


def image_public(made: MadeImage) -> ImagePublic:
    record = made.record
    condition = record.condition
    return ImagePublic(
        image_id=record.image_id,
        url=f"/v1/images/{record.image_id}.png",
        webp_url=f"/v1/images/{record.image_id}.webp",
        condition=ConditionPublic(category=condition.category_name,
                                  colour=colour_hex(condition.colour.tolist()),
                                  colour_name=made.colour_name, pattern=condition.pattern_name,
                                  vector=[round(float(v), 6) for v in condition.to_array()]),
        seed=record.seed,
        seed_text=str(record.seed),
        model_versions={"als": record.als_version, "generator": record.generator_version},
        source=record.source,  # type: ignore[arg-type]
    )


def explanation_public(runtime: Runtime, reasons: Reasons) -> Explanation:
    return Explanation(summary=reasons.summary,
                       items=[ContributingItem(item=item_public(runtime, i), weight=w)
                              for i, w in reasons.contributing])


@router.get("/users/{user_id}/images", response_model=UserImages)
async def get_user_images(
    user_id: UserIdPath,
    images: ImagesDep,
    runtime: RuntimeDep,
    engine: EngineDep,
    settings: SettingsDep,
    n: Annotated[int, Query(ge=1, description="Images to return (at most the configured "
                                              "PIGEN_MAX_IMAGES_PER_REQUEST).")] = 4,
    seed: Annotated[int, Query(ge=0, le=2**63 - 1, description="Same seed, same images.")] = 0,
    diversity: Annotated[float, Query(ge=0.0, le=4.0, description="0: the favourite only; "
                                                                  "1: the taste as it is.")
                         ] = 1.0,
) -> UserImages:
    """``n`` images made for the shopper, each with its condition, seed and why.

    Returns URLs at once; each image is generated on its first fetch.
    """
    if n > settings.max_images_per_request:
        raise HTTPException(422, f"n must be at most {settings.max_images_per_request}")
    # A running experiment's variant decides what this shopper is served (and logs
    # one exposure per shopper and experiment): settings, a generator version, or
    # the catalog photos of their top recommendations instead of generated images.
    plan = await run_in_threadpool(serving.plan_for_request, engine, user_id)
    n, seed, diversity = plan.apply(n, seed, diversity, settings.max_images_per_request)
    if plan.mode == "catalog":
        return await _catalog_control(user_id, engine, runtime, n, plan.variant)
    try:
        made = await run_in_threadpool(images.images_for_user, user_id, n, seed, diversity,
                                       plan.generator_version)
    except (LookupError, ModelLoadError) as error:  # a variant's generator is gone or broken
        raise HTTPException(409, f"experiment variant {plan.variant}: {error}") from None
    taste = made.taste
    reasons = explain(runtime.catalog, taste.source, taste.profile.contributing_items)
    return UserImages(
        user_id=user_id, source=taste.source, prior=taste.source == "prior",
        explanation=explanation_public(runtime, reasons),
        images=[image_public(m) for m in made.images], variant=plan.variant)


async def _catalog_control(user_id: str, engine: Engine, runtime: Runtime, n: int,
                           variant: str | None) -> UserImages:
    """The usual control arm: the catalog photos of the shopper's top ``n`` recommendations."""
    model_set = runtime.current
    picks = await run_in_threadpool(catalog_picks, engine, runtime.catalog, user_id, n,
                                    model_set.recommender)
    return UserImages(
        user_id=user_id, source=picks.source, prior=picks.source == "prior",
        explanation=explanation_public(runtime, picks.reasons), images=[],
        catalog_items=[item_public(runtime, i) for i in picks.item_ids], variant=variant)


ImageSize = Annotated[int | None, Query(ge=32, le=512, description="Upscale (nearest) to "
                                                                   "this many pixels.")]


async def _image_response(images: ImagesDep, settings: SettingsDep, image_id: str,
                          fmt: Literal["png", "webp"], size: int | None,
                          if_none_match: str | None) -> Response:
    if size is not None and size > settings.max_image_size:
        raise HTTPException(422, f"size must be at most {settings.max_image_size}")
    etag = f'"{image_id}-{fmt}-{size or 0}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    # 304 only for an image that exists: its tag is predictable, so a matching
    # tag alone proves nothing (an unknown id is 404 whatever the header says).
    if none_match(if_none_match, etag) and await images.has_image(image_id):
        return Response(status_code=304, headers=headers)
    try:
        data = await images.image_bytes(image_id, fmt, size)
    except ModelLoadError as error:  # its generator's file broke or changed since
        raise HTTPException(409, f"cannot make image {image_id}: {error}") from None
    except ValueError as error:  # e.g. a size below the generator's native resolution
        raise HTTPException(422, str(error)) from None
    if data is None:
        raise HTTPException(404, f"no image {image_id}")
    return Response(data, media_type=f"image/{fmt}", headers=headers)


IMAGE_RESPONSES: dict[int | str, dict] = {
    200: {"content": {"image/png": {}, "image/webp": {}}},
    304: {"description": "Not modified"}, 404: {"description": "No such image"},
    409: {"description": "The image's generator version cannot be loaded any more"}}


@router.get("/images/{image_id}.png", response_class=Response, responses=IMAGE_RESPONSES)
async def get_image_png(image_id: ImageIdPath, images: ImagesDep, settings: SettingsDep,
                        size: ImageSize = None,
                        if_none_match: Annotated[str | None, Header(max_length=1024)] = None
                        ) -> Response:
    """The image as PNG (lossless), generated on first request, then from the cache."""
    return await _image_response(images, settings, image_id, "png", size, if_none_match)


@router.get("/images/{image_id}.webp", response_class=Response, responses=IMAGE_RESPONSES)
async def get_image_webp(image_id: ImageIdPath, images: ImagesDep, settings: SettingsDep,
                         size: ImageSize = None,
                         if_none_match: Annotated[str | None, Header(max_length=1024)] = None
                         ) -> Response:
    """The image as WebP, for display."""
    return await _image_response(images, settings, image_id, "webp", size, if_none_match)
