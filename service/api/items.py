"""Catalog items: their public view and their catalog images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from pigen.service.api.deps import ReadAccess, RuntimeDep
from pigen.service.api.schemas.fields import ID_PATTERN
from pigen.service.api.schemas.items import ItemPublic
from pigen.service.runtime import Runtime

router = APIRouter(prefix="/items", tags=["items"], dependencies=[ReadAccess])

ItemIdPath = Annotated[str, PathParam(min_length=1, max_length=128, pattern=ID_PATTERN)]


def item_public(runtime: Runtime, item_id: str) -> ItemPublic:
    """The public view of a catalog item (an item gone from the catalog keeps its id)."""
    item = runtime.catalog.get(item_id)
    if item is None:
        return ItemPublic(item_id=item_id, category="unknown", colour=None, colour_name=None,
                          pattern=None, image_url=None)
    return ItemPublic(item_id=item.item_id, category=item.category, colour=item.colour,
                      colour_name=item.colour_name, pattern=item.pattern,
                      image_url=f"/v1/items/{item.item_id}/image" if item.has_image else None)


@router.get("/{item_id}", response_model=ItemPublic)
def get_item(item_id: ItemIdPath, runtime: RuntimeDep) -> ItemPublic:
    if item_id not in runtime.catalog:
        raise HTTPException(404, f"no item {item_id!r}")
    return item_public(runtime, item_id)


@router.get("/{item_id}/image", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}}}, 404: {}})
def get_item_image(item_id: ItemIdPath, runtime: RuntimeDep) -> FileResponse:
    """The catalog image; its path comes from the catalog, never from the request."""
    path = runtime.image_paths.get(item_id)
    if path is None or not Path(path).is_file():
        raise HTTPException(404, f"item {item_id!r} has no catalog image")
    return FileResponse(path, media_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400"})
