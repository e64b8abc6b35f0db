"""Load a registered model version and prove it works before it serves.

A version is trusted only after its file parsed *and* one inference ran (ALS:
recommend for one user; a ranking model, whatever its file holds: recommend for
a user with no history; generator: one image of a valid condition). The file's
bytes are read once, checked against the registry's sha256, and parsed from
memory: what is checked is exactly what is parsed, so a file replaced or
rewritten on disk while it loads is refused or loaded whole, never half-loaded
(re-reading the file after parsing would miss a file rewritten and put back in
between). No copy is written: a full disk or a file-size limit must not stop a
server from loading its models. Failures
become :class:`ModelLoadError`, whose message is safe to show any caller (the
file's name and what is wrong, no server path, no library internals); the
full cause goes to the server's log.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from pigen.data.model_registry import ModelVersionInfo
from pigen.service.generator_serving import MODEL_KIND as GENERATOR_KIND
from pigen.service.recsys_serving import RANKING_KIND
from pigen.service.recsys_serving import TASTE_KIND as ALS_KIND

if TYPE_CHECKING:
    from pigen.generator.checkpoint import LoadedGenerator
    from pigen.recsys.als import ALSRecommender
    from pigen.recsys.base import Recommender

log = logging.getLogger(__name__)

KINDS = (ALS_KIND, RANKING_KIND, GENERATOR_KIND)


class ModelLoadError(ValueError):
    """A version that cannot be served; ``str()`` is the public message."""

    def __init__(self, version: ModelVersionInfo, problem: str) -> None:
        self.version_id, self.kind, self.problem = version.id, version.kind, problem
        super().__init__(f"{version.kind} version {version.id} ({version.path.name}): {problem}")


def load_checked(version: ModelVersionInfo, device: str = "cpu") -> Any:
    """The version's model (taste ALS, ranking model or generator), loaded and smoke-tested.

    Raises
    ------
    ModelLoadError
        The file is missing, unreadable, of another kind, changed since it was
        registered, or the model fails its test inference.
    """
    if version.kind == ALS_KIND:
        return _checked(version, _load_als, _smoke_als)
    if version.kind == RANKING_KIND:
        return _checked(version, _load_ranking, _smoke_ranking)
    if version.kind == GENERATOR_KIND:
        return _checked(version, lambda v, data: _load_generator(v, data, device),
                        _smoke_generator)
    raise ModelLoadError(version, f"the service serves no models of kind {version.kind!r} "
                                  f"(it serves {', '.join(KINDS)})")


def _checked(version: ModelVersionInfo, load: Callable[[ModelVersionInfo, bytes], Any],
             smoke: Callable[[Any], None]) -> Any:
    try:
        data = version.path.read_bytes()  # one read: what is checked is what is parsed
    except OSError:
        log.warning("%s version %d: no readable file at %s", version.kind, version.id,
                    version.path)
        raise ModelLoadError(version, "its file is missing on the server") from None
    try:
        model = load(version, data)
    except ModelLoadError:
        raise
    except Exception as error:  # any failure to parse means "refuse", said plainly
        log.warning("cannot load %s version %d from %s: %r", version.kind, version.id,
                    version.path, error)
        raise ModelLoadError(version, _problem(version, error)) from error
    if not matches_registered(version, data):
        # Images are cached and recorded per version id: serving other bytes under
        # this id would make "which model made this picture" a lie.
        log.error("%s version %d: %s no longer has the sha256 it was registered with",
                  version.kind, version.id, version.path)
        raise ModelLoadError(version, FILE_CHANGED)
    try:
        smoke(model)
    except Exception as error:
        log.warning("%s version %d (%s) loaded but failed its test inference: %r",
                    version.kind, version.id, version.path, error)
        raise ModelLoadError(version, "it loaded but failed a test inference; "
                                      "retrain or re-export it") from error
    return model


#: The public problem of a version whose file's bytes are not the registered ones.
FILE_CHANGED = ("its file changed since it was registered; register the new file as a "
                "new version")


def matches_registered(version: ModelVersionInfo, data: bytes) -> bool:
    """Whether ``data`` has the sha256 the registry holds (True for versions without one)."""
    registered = version.config.get("sha256")
    return registered is None or hashlib.sha256(data).hexdigest() == registered


def _problem(version: ModelVersionInfo, error: Exception) -> str:
    """What is wrong with the file, in words a caller can act on."""
    from safetensors import SafetensorError

    from pigen.recsys.storage import ModelFileError

    if isinstance(error, FileNotFoundError):
        return "its file is missing on the server"
    if isinstance(error, zipfile.BadZipFile | EOFError):
        return "its file is truncated or is not an .npz model archive"
    if isinstance(error, SafetensorError):
        return "its file is truncated or is not a .safetensors file"
    if isinstance(error, ModelFileError):
        # These name the file by path and say what is wrong; keep the what.
        text = str(error)
        for path in (str(version.path.resolve()), str(version.path)):
            text = text.replace(f"{path}: ", "").replace(path, version.path.name)
        if "/" not in text and "pickle" not in text:
            return f"its file does not hold a valid model: {text}"
    return f"its file does not hold a valid {version.kind} model"


def _load_als(version: ModelVersionInfo, data: bytes) -> ALSRecommender:
    from pigen.recsys.als import ALSRecommender

    return ALSRecommender.load(version.path, data=data)


def _smoke_als(als: ALSRecommender) -> None:
    from pigen.recsys.user_factors import history_row

    factor = als.user_factors[0] if len(als.users) else als.cold_prior()
    rows, scores = als.recommend_from_factors(factor, history_row(als.items, [], []), 1)
    if len(rows) != 1 or not (0 <= int(rows[0]) < len(als.items)) or not np.isfinite(scores).all():
        raise ValueError(f"test recommendation gave rows {rows!r}, scores {scores!r}")


def _load_ranking(version: ModelVersionInfo, data: bytes) -> Recommender:
    from pigen.recsys.model_kinds import load_recommender

    return load_recommender(version.path, data=data)


def _smoke_ranking(model: Recommender) -> None:
    from pigen.recsys.user_factors import history_row

    rows, scores = model.recommend_from_items(history_row(model.items, [], []), 1)  # (1, 1)
    if rows.shape != (1, 1) or not (0 <= int(rows[0, 0]) < len(model.items)) \
            or not np.isfinite(scores).all():
        raise ValueError(f"test recommendation gave rows {rows!r}, scores {scores!r}")


def _load_generator(version: ModelVersionInfo, data: bytes, device: str) -> LoadedGenerator:
    from pigen.generator.checkpoint import load_generator
    from pigen.generator.device import resolve_device

    return load_generator(version.path, device=resolve_device(device), data=data)


def _smoke_generator(loaded: LoadedGenerator) -> None:
    import torch

    from pigen.data.conditions import ConditionVector
    from pigen.generator.sampling import sample

    layout = loaded.layout
    category = np.eye(layout.n_categories, dtype=np.float32)[0]
    pattern = np.eye(layout.n_patterns, dtype=np.float32)[0]
    colour = np.full(3, 0.5, dtype=np.float32)
    condition = ConditionVector(layout, category, colour, pattern).to_array()[None]  # (1, D)
    with torch.inference_mode():
        image = sample(loaded.model, condition, [0])  # (1, 3, R, R) in [0, 1]
    if image.shape[0] != 1 or not torch.isfinite(image).all():
        raise ValueError(f"test image has shape {tuple(image.shape)} or non-finite values")
