"""What a variant's config may say, checked when the experiment is created.

A key the image endpoints would ignore, or a value they would have to cut down,
is refused here with the reason, so no experiment runs on settings it never
served. The keys:

* ``mode``: ``"catalog"`` (the catalog photo of the top recommendation) or
  ``"generated"`` (a personalised image, the default);
* ``generator_version``: a registered generator version id to serve with;
* ``diversity``: taste-sampling diversity, 0-4 (as the images endpoint's query);
* ``n``: images per request, 1 to the server's images-per-request cap;
* ``seed``: a fixed image seed, >= 0.

``recsys_version`` is refused: the server serves every request from its one
active ALS model, so a pinned recommender version would be silently ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

MODES = ("catalog", "generated")
KEYS = ("mode", "generator_version", "diversity", "n", "seed")
MAX_DIVERSITY = 4.0
MAX_SEED = 2**63 - 1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def validate_config(name: str, config: Mapping[str, Any],
                    max_images_per_request: int | None = None) -> dict[str, Any]:
    """``config`` unchanged when every key is served as written; ``ValueError`` naming the first
    problem otherwise. ``max_images_per_request`` None skips the cap (no settings at hand)."""
    where = f"variant {name!r}"
    if "recsys_version" in config:
        raise ValueError(f"{where}: recsys_version is not supported: every request is served "
                         "by the active ALS model (switch it with pigen models activate)")
    unknown = sorted(set(config) - set(KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown config key(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(KEYS)}")
    if "mode" in config and config["mode"] not in MODES:
        raise ValueError(f"{where}: mode must be one of {', '.join(MODES)}, "
                         f"got {config['mode']!r}")
    version = config.get("generator_version")
    if version is not None and not (_is_int(version) and version >= 1):
        raise ValueError(f"{where}: generator_version must be a version id >= 1, "
                         f"got {version!r}")
    diversity = config.get("diversity")
    if diversity is not None and not (_is_number(diversity)
                                      and 0.0 <= diversity <= MAX_DIVERSITY):
        raise ValueError(f"{where}: diversity must be a number in [0, {MAX_DIVERSITY:g}], "
                         f"got {diversity!r}")
    if "n" in config:
        n = config["n"]
        if not (_is_int(n) and n >= 1):
            raise ValueError(f"{where}: n must be a whole number >= 1, got {n!r}")
        if max_images_per_request is not None and n > max_images_per_request:
            raise ValueError(f"{where}: n = {n} is over the server's cap of "
                             f"{max_images_per_request} images per request "
                             "(PIGEN_MAX_IMAGES_PER_REQUEST)")
    if "seed" in config and not (_is_int(config["seed"]) and 0 <= config["seed"] <= MAX_SEED):
        raise ValueError(f"{where}: seed must be a whole number in [0, 2**63 - 1], "
                         f"got {config['seed']!r}")
    return dict(config)


def check_generator_versions(engine: Engine, configs: Sequence[tuple[str, Mapping[str, Any]]]
                             ) -> None:
    """``ValueError`` when a variant names a generator version that is not registered."""
    from pigen.data.model_registry import list_model_versions

    wanted = {name: c["generator_version"] for name, c in configs if "generator_version" in c}
    if not wanted:
        return
    known = {v.id for v in list_model_versions(engine, "generator")}
    for name, version in wanted.items():
        if version not in known:
            listed = ", ".join(str(k) for k in sorted(known)) or "none"
            raise ValueError(f"variant {name!r}: generator_version {version} is not a "
                             f"registered generator (registered: {listed}; see pigen models "
                             "list)")
