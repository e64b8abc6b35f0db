"""The models a running service serves with: loaded once, swapped atomically.

Request handlers read :attr:`Runtime.current` once, at their start, and use that
:class:`ModelSet` to the end, so a hot swap (``activate``) never changes the
models under a request in flight: the new set replaces the reference in one
assignment, and the old one lives on until its last request finishes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from pigen.data.items import catalog_layout, read_items_frame
from pigen.data.model_registry import (
    ModelVersionInfo,
    activate_model_version,
    active_model_version,
    list_model_versions,
)
from pigen.recsys.als import ALSRecommender
from pigen.recsys.item_attributes import ItemAttributes
from pigen.service import generator_serving, recsys_serving
from pigen.service.settings import Settings

if TYPE_CHECKING:
    from pigen.generator.checkpoint import LoadedGenerator

log = logging.getLogger(__name__)

#: Generators of older versions kept loaded, for images whose rows name them.
OLD_GENERATORS_KEPT = 2


class ModelsNotReady(RuntimeError):
    """No model of a needed kind is active (answered as 503 with this message)."""


@dataclass(frozen=True)
class CatalogItem:
    """What a page shows of a catalog item (the explanation's "title")."""

    item_id: str
    category: str
    colour: str | None
    colour_name: str | None
    pattern: str | None
    has_image: bool


@dataclass(frozen=True)
class ModelSet:
    """One consistent set: ALS, the catalog seen through its item map, the generator."""

    als_version: ModelVersionInfo
    als: ALSRecommender
    attributes: ItemAttributes
    generator_version: ModelVersionInfo
    generator: LoadedGenerator

    @property
    def versions(self) -> dict[str, int]:
        return {"als": self.als_version.id, "generator": self.generator_version.id}


class Runtime:
    """Holds the current :class:`ModelSet` and the catalog; loads, swaps, refreshes."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._current: ModelSet | None = None
        self._error: str | None = "models not loaded yet"
        self.catalog: dict[str, CatalogItem] = {}
        self.image_paths: dict[str, str] = {}  # item id -> catalog image file
        self._old_generators: OrderedDict[int, LoadedGenerator] = OrderedDict()
        self._generator_lock = threading.Lock()
        self._swap_lock = asyncio.Lock()

    # -- reading ------------------------------------------------------------------------

    @property
    def current(self) -> ModelSet:
        """The model set to serve this request with (read it once per request)."""
        if self._current is None:
            raise ModelsNotReady(self._error or "models not loaded")
        return self._current

    @property
    def ready(self) -> bool:
        return self._current is not None

    @property
    def not_ready_reason(self) -> str | None:
        return None if self._current is not None else self._error

    def generator_for(self, version_id: int) -> LoadedGenerator:
        """The generator of ``version_id``: the current one, or an older one loaded on demand."""
        current = self.current
        if current.generator_version.id == version_id:
            return current.generator
        with self._generator_lock:
            if version_id in self._old_generators:
                self._old_generators.move_to_end(version_id)
                return self._old_generators[version_id]
        versions = {v.id: v for v in list_model_versions(self.engine, generator_serving.MODEL_KIND)}
        if version_id not in versions:
            raise LookupError(f"no generator version {version_id}")
        loaded = self._load_generator(versions[version_id])
        with self._generator_lock:
            self._old_generators[version_id] = loaded
            while len(self._old_generators) > OLD_GENERATORS_KEPT:
                self._old_generators.popitem(last=False)
        return loaded

    # -- loading and swapping -----------------------------------------------------------

    def load(self) -> None:
        """Load the catalog and the active models (blocking: call it in a thread)."""
        try:
            self._load_catalog()
            als_version, als = recsys_serving.load_active_als(self.engine)
            generator_version = generator_serving.ensure_generator_version(self.engine)
            self._current = ModelSet(als_version, als, self._attributes(als), generator_version,
                                     self._load_generator(generator_version))
            self._error = None
        except (LookupError, FileNotFoundError, ValueError) as error:
            self._error = str(error)
            log.error("models not loaded: %s", error)

    async def activate(self, version_id: int) -> ModelVersionInfo:
        """Make ``version_id`` active in the registry and serve with it from now on."""
        async with self._swap_lock:
            version = await asyncio.to_thread(activate_model_version, self.engine, version_id)
            await asyncio.to_thread(self._swap_to, version)
            return version

    async def refresh(self) -> bool:
        """Follow the registry if another process activated a version; True if swapped."""
        async with self._swap_lock:
            if self._current is None:
                await asyncio.to_thread(self.load)
                return self._current is not None
            swapped = False
            for kind in (recsys_serving.MODEL_KIND, generator_serving.MODEL_KIND):
                active = await asyncio.to_thread(active_model_version, self.engine, kind)
                if active is not None and active.id != self._current.versions[kind]:
                    await asyncio.to_thread(self._swap_to, active)
                    swapped = True
            return swapped

    def _swap_to(self, version: ModelVersionInfo) -> None:
        current = self.current
        if version.kind == recsys_serving.MODEL_KIND:
            als = ALSRecommender.load(version.path)
            new = replace(current, als_version=version, als=als, attributes=self._attributes(als))
        elif version.kind == generator_serving.MODEL_KIND:
            new = replace(current, generator_version=version,
                          generator=self._load_generator(version))
            with self._generator_lock:  # the outgoing one still serves its images' rows
                self._old_generators[current.generator_version.id] = current.generator
                while len(self._old_generators) > OLD_GENERATORS_KEPT:
                    self._old_generators.popitem(last=False)
        else:
            raise ValueError(f"the service serves no models of kind {version.kind!r}")
        self._current = new  # one reference assignment: the swap
        log.info("now serving %s version %d", version.kind, version.id)

    def _load_catalog(self) -> None:
        items = read_items_frame(self.engine)
        self._items_frame = items
        catalog: dict[str, CatalogItem] = {}
        paths: dict[str, str] = {}
        for row in items.itertuples(index=False):
            catalog[row.item_id] = CatalogItem(row.item_id, row.category, row.colour,
                                               row.colour_name, row.pattern,
                                               row.image_path is not None)
            if row.image_path is not None:
                paths[row.item_id] = row.image_path
        self.catalog, self.image_paths = catalog, paths

    def _attributes(self, als: ALSRecommender) -> ItemAttributes:
        items = self._items_frame
        return ItemAttributes.from_frame(items, als.items, catalog_layout(items))

    def _load_generator(self, version: ModelVersionInfo) -> LoadedGenerator:
        from pigen.generator.checkpoint import load_generator
        from pigen.generator.device import resolve_device

        loaded = load_generator(version.path, device=resolve_device(self.settings.device))
        registered = version.config.get("sha256")
        if registered is not None and loaded.sha256 != registered:
            # Images are cached and recorded per version id: serving other bytes under
            # this id would make "which model made this picture" a lie.
            raise ValueError(f"generator version {version.id}: {version.path} changed since it "
                             "was registered; register the new file as a new version")
        return loaded

