"""The models a running service serves with: loaded once, swapped atomically.

Request handlers read :attr:`Runtime.current` once, at their start, and use that
:class:`ModelSet` to the end, so a hot swap (``activate``) never changes the
models under a request in flight: the new set replaces the reference in one
assignment, and the old one lives on until its last request finishes.

Nothing serves before it has loaded and passed a test inference
(:mod:`pigen.service.model_loading`); at start-up an active version that fails
gives way to the last good one of its kind, recorded in :attr:`Runtime.fallbacks`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from pigen.data.conditions import ConditionLayout
from pigen.data.items import catalog_stamp, read_items_frame, unknown_names
from pigen.data.model_registry import (
    ModelVersionInfo,
    activate_model_version,
    active_model_version,
    list_model_versions,
)
from pigen.recsys.als import ALSRecommender
from pigen.recsys.base import Recommender
from pigen.recsys.item_attributes import ItemAttributes
from pigen.service import generator_serving, recsys_serving
from pigen.service.model_loading import (
    KINDS,
    ModelLoadError,
    load_checked,
    matches_registered,
)
from pigen.service.settings import Settings

if TYPE_CHECKING:
    from pigen.generator.checkpoint import LoadedGenerator

log = logging.getLogger(__name__)

#: Generators of older versions kept loaded, for images whose rows name them.
OLD_GENERATORS_KEPT = 2


class ModelsNotReady(RuntimeError):
    """No model of a needed kind is active (answered as 503 with this message)."""


@dataclass(frozen=True)
class Fallback:
    """An active version that would not load at start-up, and the one served instead."""

    kind: str
    active: int  # the registry's choice
    serving: int
    problem: str  # public: what is wrong with the active one
    serving_kind: str = ""  # what kind ``serving`` is, when not ``kind`` (ranking -> taste)


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
    """One consistent set: the taste ALS, the catalog seen through its item map, the
    generator, and the ranking model (None in a store that has none yet)."""

    als_version: ModelVersionInfo  # the taste model: images are made from it
    als: ALSRecommender
    attributes: ItemAttributes
    generator_version: ModelVersionInfo
    generator: LoadedGenerator
    ranking_version: ModelVersionInfo | None = None
    ranking: Recommender | None = None

    @property
    def versions(self) -> dict[str, int]:
        versions = {"als": self.als_version.id, "generator": self.generator_version.id}
        if self.ranking_version is not None:
            versions[recsys_serving.RANKING_KIND] = self.ranking_version.id
        return versions

    @property
    def recommender(self) -> tuple[ModelVersionInfo, Recommender]:
        """What recommendations come from: the ranking model, else the taste model."""
        if self.ranking_version is not None and self.ranking is not None:
            return self.ranking_version, self.ranking
        return self.als_version, self.als


class Runtime:
    """Holds the current :class:`ModelSet` and the catalog; loads, swaps, refreshes."""

    def __init__(self, engine: Engine, settings: Settings,
                 on_fallback: Callable[[str], None] = lambda kind: None) -> None:
        self.engine = engine
        self.settings = settings
        self._on_fallback = on_fallback  # e.g. count it in a metric
        self.fallbacks: dict[str, Fallback] = {}  # kind -> what serves instead of the active
        self._failed: dict[int, tuple[int, int] | None] = {}  # refused id -> its file's stamp
        self._served_stamps: dict[int, tuple[int, int] | None] = {}  # served id -> checked stamp
        self._current: ModelSet | None = None
        self._error: str | None = "models not loaded yet"
        self.catalog: dict[str, CatalogItem] = {}
        self.image_paths: dict[str, str] = {}  # item id -> catalog image file
        self._catalog_stamp: tuple[int, int | None] | None = None  # of the copy held
        self._old_generators: OrderedDict[int, LoadedGenerator] = OrderedDict()
        # (ALS version, catalog stamp, layout) -> attributes, for a pinned generator
        # whose layout is not the served one's
        self._attributes_by_layout: dict[tuple[object, ...], ItemAttributes] = {}
        self._warned_layouts: set[tuple[object, ...]] = set()
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
    def serving_versions(self) -> dict[str, int]:
        """kind -> version id served now; empty before any model set loaded."""
        return {} if self._current is None else self._current.versions

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
        loaded = self._load(versions[version_id])
        with self._generator_lock:
            self._old_generators[version_id] = loaded
            while len(self._old_generators) > OLD_GENERATORS_KEPT:
                self._old_generators.popitem(last=False)
        return loaded

    # -- loading and swapping -----------------------------------------------------------

    def load(self) -> None:
        """Load the catalog and the active models (blocking: call it in a thread).

        An active version that fails to load or to infer is replaced by the last
        good one of its kind (see :meth:`_load_kind`); only if none works is the
        service left not ready.
        """
        try:
            self._load_catalog()
            als_version, als = self._load_kind(
                recsys_serving.TASTE_KIND,
                active_model_version(self.engine, recsys_serving.TASTE_KIND))
            generator_version, generator = self._load_kind(
                generator_serving.MODEL_KIND, self._active_generator())
            ranking_version, ranking = self._load_ranking(als_version)
            self._current = ModelSet(als_version, als, self._attributes(als, generator.layout),
                                     generator_version, generator, ranking_version, ranking)
            self._error = None
        except (LookupError, FileNotFoundError, ValueError) as error:
            if str(error) != self._error:  # once per cause, not every refresh
                log.error("models not loaded: %s", error)
            self._error = str(error)

    async def activate(self, version_id: int) -> ModelVersionInfo:
        """Load and test ``version_id``, then make it active and serve with it.

        The test runs inside the activation's transaction: a version that fails
        it is never active (:class:`ModelLoadError`, registry unchanged).
        """
        async with self._swap_lock:
            return await asyncio.to_thread(self._activate, version_id)

    async def refresh(self) -> bool:
        """Follow the catalog, and the registry if another process activated a version.

        True if anything changed (items added or removed, a model swapped).
        """
        async with self._swap_lock:
            if self._current is None:
                await asyncio.to_thread(self.load)
                return self._current is not None
            # Items ingested since start-up: seen first, so a new ALS sees them too.
            await asyncio.to_thread(self._check_served_files)
            swapped = await asyncio.to_thread(self._follow_catalog)
            for kind in KINDS:
                active = await asyncio.to_thread(active_model_version, self.engine, kind)
                if active is None or active.id == self._current.versions.get(kind):
                    continue
                if active.id in self._failed and self._failed[active.id] == _stamp(active):
                    continue  # refused already, and its file has not changed since
                try:
                    model = await asyncio.to_thread(self._load, active)
                except ModelLoadError as error:
                    self._failed[active.id] = _stamp(active)
                    log.error("the registry's active %s cannot be served: %s; still serving "
                              "version %s", kind, error, self._current.versions.get(kind))
                    continue
                self._install(active, model)
                self.fallbacks.pop(kind, None)
                swapped = True
            return swapped

    def _activate(self, version_id: int) -> ModelVersionInfo:
        loaded: list[Any] = []
        version = activate_model_version(self.engine, version_id,
                                         check=lambda v: loaded.append(self._load(v)))
        self._failed.pop(version.id, None)
        self.fallbacks.pop(version.kind, None)
        if version.kind == recsys_serving.TASTE_KIND and self._current is not None:
            self._follow_catalog()  # the new model may know items ingested since start-up
        if self._current is None:
            self.load()  # e.g. a rollback after a start with nothing servable
        else:
            self._install(version, loaded[0])
        return version

    def _load(self, version: ModelVersionInfo) -> Any:
        return load_checked(version, self.settings.device)

    def _active_generator(self) -> ModelVersionInfo | None:
        from pigen.generator.shipped import PREVIOUS_GENERATORS

        try:
            # Earlier shipped generators stay one `pigen models activate` (or one
            # experiment variant) away: registered, inactive, at service start.
            generator_serving.register_previous_generators(self.engine, PREVIOUS_GENERATORS)
            return generator_serving.ensure_generator_version(self.engine)
        except Exception:  # a broken shipped file must not hide the registered ones
            log.exception("cannot register the shipped generator")
            return active_model_version(self.engine, generator_serving.MODEL_KIND)

    def _load_ranking(self, taste: ModelVersionInfo
                      ) -> tuple[ModelVersionInfo | None, Recommender | None]:
        """The ranking model, or (None, None): recommendations then come from taste.

        Optional, unlike the others: stores from before ranking models have none,
        and a ranking model that cannot be served must not stop the images. But an
        active one that no version of can serve is a fallback like any other
        (``/readyz`` degraded, the metric, the log), serving the taste version.
        """
        kind = recsys_serving.RANKING_KIND
        active = active_model_version(self.engine, kind)
        if active is None:
            self.fallbacks.pop(kind, None)
            return None, None
        try:
            return self._load_kind(kind, active)
        except LookupError as error:
            if kind not in self.fallbacks:  # once per cause, not every refresh
                log.error("FALLBACK: recommending from the taste model: %s", error)
                self._on_fallback(kind)
            self.fallbacks[kind] = Fallback(kind, active.id, taste.id, str(error),
                                            serving_kind=recsys_serving.TASTE_KIND)
            return None, None

    def _load_kind(self, kind: str, active: ModelVersionInfo | None
                   ) -> tuple[ModelVersionInfo, Any]:
        """The active version of ``kind`` loaded, or else the last good one.

        Candidates after the active one: older versions newest first (the last good
        one), then newer ones (perhaps rolled back from, but better than nothing).
        """
        if active is None:
            raise LookupError("no active taste model: run `pigen recsys train --purpose taste` "
                              "first" if kind == recsys_serving.TASTE_KIND
                              else f"no active {kind} model")
        others = list_model_versions(self.engine, kind)
        candidates = ([active] + [v for v in others if v.id < active.id]
                      + [v for v in reversed(others) if v.id > active.id])
        refused: ModelLoadError | None = None
        for version in candidates:
            try:
                model = self._load(version)
            except ModelLoadError as error:
                refused = refused or error
                continue
            if refused is None:
                self.fallbacks.pop(kind, None)
            else:
                self._failed[active.id] = _stamp(active)
                self.fallbacks[kind] = Fallback(kind, active.id, version.id, str(refused))
                log.error("FALLBACK: active %s cannot be served (%s); serving %s version %d "
                          "instead until a good version is activated", kind, refused, kind,
                          version.id)
                self._on_fallback(kind)
            return version, model
        raise LookupError(f"no {kind} version can be served: {refused}")

    def _install(self, version: ModelVersionInfo, model: Any) -> None:
        current = self.current
        if version.kind == recsys_serving.TASTE_KIND:
            new = replace(current, als_version=version, als=model,
                          attributes=self._attributes(model, current.generator.layout))
        elif version.kind == recsys_serving.RANKING_KIND:
            new = replace(current, ranking_version=version, ranking=model)
        else:
            # Taste is sampled in the served generator's layout (any catalog's names).
            attributes = (current.attributes if model.layout == current.generator.layout
                          else self._attributes(current.als, model.layout))
            new = replace(current, generator_version=version, generator=model,
                          attributes=attributes)
            with self._generator_lock:  # the outgoing one still serves its images' rows
                self._old_generators[current.generator_version.id] = current.generator
                while len(self._old_generators) > OLD_GENERATORS_KEPT:
                    self._old_generators.popitem(last=False)
        self._current = new  # one reference assignment: the swap
        log.info("now serving %s version %d", version.kind, version.id)

    def _follow_catalog(self) -> bool:
        """Reload the catalog if items were added or removed since it was read; True if so.

        The served set's attributes are rebuilt from it, as a restart would.
        """
        if catalog_stamp(self.engine) == self._catalog_stamp:
            return False
        self._load_catalog()
        current = self.current
        self._current = replace(current, attributes=self._attributes(
            current.als, current.generator.layout))
        log.info("catalog reloaded: %d items", len(self.catalog))
        return True

    def _check_served_files(self) -> None:
        """Notice a served model's file replaced on disk; keep serving the loaded copy.

        A file whose (mtime, size) changed is hashed again. Bytes other than the
        registered ones mean a restart or a reload would refuse it (or worse, a
        half-written file): said once by the log, ``/readyz`` (degraded) and the
        fallback metric, until the file is restored or another version activated.
        """
        current = self._current
        if current is None:
            return
        served = (current.als_version, current.generator_version, current.ranking_version)
        for version in (v for v in served if v is not None):
            stamp = _stamp(version)
            if version.id in self._served_stamps and self._served_stamps[version.id] == stamp:
                continue
            self._served_stamps[version.id] = stamp
            try:
                intact = matches_registered(version, version.path.read_bytes())
            except OSError:
                intact = False
            reported = self.fallbacks.get(version.kind)
            if intact:
                if reported == _file_changed(version):
                    self.fallbacks.pop(version.kind)
                    log.warning("the file of %s version %d has its registered bytes again",
                                version.kind, version.id)
                continue
            if reported is None:
                self.fallbacks[version.kind] = _file_changed(version)
                log.error("the file of %s version %d (%s) changed on disk since it was "
                          "registered; still serving the copy loaded before. Restore the file "
                          "or activate another version.", version.kind, version.id, version.path)
                self._on_fallback(version.kind)

    def _load_catalog(self) -> None:
        # The stamp is read first: items ingested while the frame is read make the
        # next check reload again rather than be missed.
        self._catalog_stamp = catalog_stamp(self.engine)
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

    def attributes_in(self, model_set: ModelSet, layout: ConditionLayout) -> ItemAttributes:
        """The catalog through ``model_set``'s ALS, in ``layout`` (a pinned generator's).

        The served set's own attributes when the layouts agree; otherwise built once
        per (ALS version, catalog, layout) and kept while the catalog stays.
        """
        if layout == model_set.generator.layout:
            return model_set.attributes
        key = (model_set.als_version.id, self._catalog_stamp, layout)
        with self._generator_lock:
            found = self._attributes_by_layout.get(key)
        if found is None:
            found = self._attributes(model_set.als, layout)
            with self._generator_lock:
                self._attributes_by_layout = {key: found}  # one pinned layout at a time
        return found

    def _attributes(self, als: ALSRecommender, layout: ConditionLayout) -> ItemAttributes:
        """The catalog's attributes by name in ``layout``; names it lacks drop out (logged)."""
        items = self._items_frame
        unknown = unknown_names(items, layout)
        if unknown and (self._catalog_stamp, layout) not in self._warned_layouts:
            self._warned_layouts.add((self._catalog_stamp, layout))
            log.warning("the generator's layout lacks catalog names %s: items with them drop "
                        "out of that part of shoppers' taste", unknown)
        return ItemAttributes.from_frame(items, als.items, layout)


def _file_changed(version: ModelVersionInfo) -> Fallback:
    return Fallback(version.kind, version.id, version.id,
                    f"the file of {version.kind} version {version.id} changed on disk since it "
                    "was registered; still serving the copy loaded before")


def _stamp(version: ModelVersionInfo) -> tuple[int, int] | None:
    """(mtime, size) of the version's file: a refused file is retried once it changes."""
    try:
        stat = version.path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
