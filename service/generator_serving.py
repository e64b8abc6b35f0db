"""The active generator: the registry's choice, or the shipped weights on first use.

The service, campaigns and the CLI all ask here, so "which generator made this
image" always has one answer: a model_versions row of kind ``generator``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from pigen.data.model_registry import (
    ModelVersionInfo,
    active_model_version,
    list_model_versions,
    register_model_version,
)

if TYPE_CHECKING:
    from pigen.generator.checkpoint import LoadedGenerator

MODEL_KIND = "generator"


def ensure_generator_version(engine: Engine, weights: Path | None = None) -> ModelVersionInfo:
    """The active generator version; registers ``weights`` (default: shipped) if none is.

    Registering is idempotent per file: a second call with the same weights returns
    the existing row instead of adding another.
    """
    from pigen.generator.checkpoint import file_sha256, load_generator
    from pigen.generator.shipped import SHIPPED_GENERATOR

    active = active_model_version(engine, MODEL_KIND)
    path = (weights or SHIPPED_GENERATOR).resolve()
    digest = file_sha256(path) if path.is_file() else None
    if active is not None and weights is None and (
            active.path.resolve() != path or active.config.get("sha256") == digest):
        return active
    for version in list_model_versions(engine, MODEL_KIND):
        # Same file *and* same bytes: new weights at an old path (an upgraded pigen's
        # shipped file) are a new version, so images cached under the old id stay
        # the old model's.
        if version.path.resolve() == path and version.config.get("sha256") == digest:
            return version
    loaded = load_generator(path)  # validates the file before it is registered
    config = {"generator": loaded.config.to_dict(), "layout": loaded.layout.to_dict(),
              "sha256": loaded.sha256}
    if active is not None and active.path.resolve() == path:
        # The active version's file changed under it: the new bytes take over.
        return register_model_version(engine, MODEL_KIND, path, config, loaded.metrics,
                                      activate=True)
    return register_model_version(engine, MODEL_KIND, path, config, loaded.metrics,
                                  activate=active is None)


def register_previous_generators(engine: Engine, paths: tuple[Path, ...]) -> None:
    """Register earlier shipped generators as inactive versions (once each, by path and bytes).

    So an A/B test of the old against the new generator needs no file hunting:
    ``pigen models list`` shows both.
    """
    from pigen.generator.checkpoint import file_sha256, load_generator

    known = {(v.path.resolve(), v.config.get("sha256"))
             for v in list_model_versions(engine, MODEL_KIND)}
    for path in paths:
        if not path.is_file():
            continue
        if (path.resolve(), file_sha256(path)) in known:
            continue
        loaded = load_generator(path)
        config = {"generator": loaded.config.to_dict(), "layout": loaded.layout.to_dict(),
                  "sha256": loaded.sha256}
        register_model_version(engine, MODEL_KIND, path.resolve(), config, loaded.metrics,
                               activate=False)


def load_active_generator(engine: Engine, device: str = "cpu"
                          ) -> tuple[ModelVersionInfo, LoadedGenerator]:
    """(version, LoadedGenerator) of the active generator, registering the shipped one first."""
    from pigen.generator.checkpoint import load_generator

    version = ensure_generator_version(engine)
    return version, load_generator(version.path, device=device)
