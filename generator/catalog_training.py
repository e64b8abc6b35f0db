"""Training on a store's own catalog: its prepared photos, its items' conditions.

The built-in path renders Fashion-MNIST shapes with drawn colours and patterns;
here the real images are the catalog's own photos (prepared by
:mod:`pigen.data.catalog.training_set`), each paired with its item's one-hot
category and pattern and its body colour. What the generator is asked for each
step is drawn apart from the real batch: other items' (category, colour,
pattern) triples, colour jittered like the built-in palette draws, so the
generator learns the combinations the catalog holds and colours near them.

The loop, checkpoints and exact resume are the built-in path's
(:func:`pigen.generator.train.run_training`); the stream's state carries the
catalog's fingerprint, so a resume on a changed catalog is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sqlalchemy import Engine

from pigen.data.catalog.palette import RGB
from pigen.data.catalog.training_set import CatalogTrainingSet
from pigen.data.conditions import ConditionLayout, one_hot_batch
from pigen.generator.config import GeneratorConfig
from pigen.generator.losses import real_opaque_level
from pigen.generator.models import Generator
from pigen.generator.train import (
    CHECKPOINT,
    Evaluator,
    RunResult,
    build_training_on,
    run_training,
)
from pigen.generator.training_data import RenderedBatch

CATALOG_FILE = "catalog.json"


def layout_of(catalog: CatalogTrainingSet) -> ConditionLayout:
    """The catalog's own layout: its distinct categories and patterns, sorted by name."""
    return ConditionLayout(tuple(sorted(set(catalog.categories))),
                           tuple(sorted(set(catalog.patterns))))


def on_backdrop(images: np.ndarray, masks: np.ndarray, background: RGB) -> np.ndarray:
    """(N, R, R, 3) in [0, 1]: each product composited on the generator's backdrop.

    Photos come on their own backdrops; the generator draws on one. The mask's
    edge is softened by a 3x3 mean, so outlines are not stair-stepped.
    """
    alpha = soft_alpha(masks)[..., None]  # (N, R, R, 1)
    backdrop = np.asarray(background, dtype=np.float32)
    return (images * alpha + backdrop * (1.0 - alpha)).astype(np.float32)


def soft_alpha(masks: np.ndarray) -> np.ndarray:
    """(N, R, R) float32 in [0, 1]: the bool masks averaged over 3x3 neighbourhoods."""
    hard = torch.from_numpy(masks.astype(np.float32))[:, None]  # (N, 1, R, R)
    return F.avg_pool2d(hard, 3, stride=1, padding=1, count_include_pad=False)[:, 0].numpy()


class CatalogStream:
    """An endless, seeded stream of a catalog's photos and the conditions to ask for.

    Real batch: items drawn uniformly, flipped left-right half the time, with their
    own conditions. Asked-for batch: other items' triples, colour + N(0, jitter).
    """

    def __init__(self, catalog: CatalogTrainingSet, layout: ConditionLayout, seed: int,
                 background: RGB, colour_jitter: float = 0.08) -> None:
        if len(catalog) == 0:
            raise ValueError("the catalog has no items to train on")
        self.layout = layout
        self.categories = np.array([layout.category_index(c) for c in catalog.categories])
        self.patterns = np.array([layout.pattern_index(p) for p in catalog.patterns])
        self.colours = catalog.colours.astype(np.float32)  # (N, 3)
        self.conditions = torch.from_numpy(one_hot_batch(layout, self.categories, self.colours,
                                                         self.patterns))  # (N, D)
        framed = on_backdrop(catalog.images, catalog.masks, background)  # (N, R, R, 3)
        self.pixels = torch.from_numpy(framed).permute(0, 3, 1, 2).contiguous() * 2.0 - 1.0
        self.colour_jitter = colour_jitter
        self.fingerprint = catalog.fingerprint()
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.categories)

    def next_batch(self, batch_size: int) -> RenderedBatch:
        rng = self.rng
        picks = rng.integers(len(self), size=batch_size)
        flips = torch.from_numpy(rng.random(batch_size) < 0.5)
        images = self.pixels[picks]  # (B, 3, R, R) in [-1, 1], a copy
        images[flips] = images[flips].flip(-1)
        return RenderedBatch(
            images=images,
            conditions=self.conditions[picks],
            labels=torch.from_numpy(self.categories[picks].astype(np.int64)),
            patterns=torch.from_numpy(self.patterns[picks].astype(np.int64)),
            colours=torch.from_numpy(self.colours[picks]),
            fake_conditions=torch.from_numpy(self.sample_conditions(batch_size, rng)),
        )

    def sample_conditions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, D) items' (category, colour, pattern) triples, colour jittered and clipped."""
        asked = rng.integers(len(self), size=n)
        colours = np.clip(self.colours[asked] + rng.normal(0.0, self.colour_jitter, (n, 3)),
                          0.0, 1.0)
        return one_hot_batch(self.layout, self.categories[asked], colours, self.patterns[asked])

    def state(self) -> dict[str, Any]:
        return {"bit_generator": dict(self.rng.bit_generator.state),
                "catalog": self.fingerprint}

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("catalog") != self.fingerprint:
            raise ValueError("the checkpoint was trained on another catalog (items, attributes "
                             "or images changed since); train into a new --run-dir")
        self.rng.bit_generator.state = state["bit_generator"]


def train_on_catalog(config: GeneratorConfig, run_dir: Path, catalog: CatalogTrainingSet, *,
                     resume: bool = False, evaluator: Evaluator | None = None,
                     progress: bool = True, stop_after: int | None = None) -> RunResult:
    """Train on ``catalog`` to ``config.steps`` (or ``stop_after`` more), resumably.

    The final weights carry :func:`layout_of` the catalog; ``run_dir/catalog.json``
    lists the items trained on and those left out.
    """
    if catalog.resolution != config.resolution:
        raise ValueError(f"catalog images are {catalog.resolution} px, the config asks for "
                         f"{config.resolution} px")
    layout = layout_of(catalog)

    def build():  # type: ignore[no-untyped-def]
        stream = CatalogStream(catalog, layout, seed=config.seed + 1,
                               background=config.background, colour_jitter=config.colour_jitter)
        # products in photos are opaque: the generator's most opaque pixels should be too
        opaque = real_opaque_level(soft_alpha(catalog.masks) * 255.0)
        return build_training_on(config, layout, stream, opaque,
                                 condition_sampler=stream.sample_conditions,
                                 colour_supervised="solid" in layout.patterns)

    run_dir.mkdir(parents=True, exist_ok=True)
    if resume or not (run_dir / CHECKPOINT).exists():  # else run_training refuses the run
        (run_dir / CATALOG_FILE).write_text(json.dumps({
            "fingerprint": catalog.fingerprint(), "layout": layout.to_dict(),
            "items": len(catalog), "item_ids": list(catalog.item_ids),
            "skipped": [{"item_id": i, "reason": r} for i, r in catalog.skipped],
        }, indent=1) + "\n")
    return run_training(config, run_dir, build, resume=resume, evaluator=evaluator,
                        progress=progress, stop_after=stop_after)


def train_catalog_generator(engine: Engine, config: GeneratorConfig, run_dir: Path,
                            cache_dir: Path, *, skip_incomplete: bool = False,
                            resume: bool = False, evaluate: bool = True, progress: bool = True,
                            stop_after: int | None = None
                            ) -> tuple[RunResult, CatalogTrainingSet]:
    """Read the store's catalog, prepare its images (cached in ``cache_dir``) and train.

    The Python face of ``pigen generator train --catalog``. With ``evaluate`` every
    evaluation row holds the catalog figures of
    :func:`pigen.generator.catalog_evaluate.evaluate_on_catalog`.

    Raises
    ------
    pigen.data.catalog.training_set.IncompleteCatalog
        Items lack colour or pattern (run ``pigen catalog extract``), or none is usable.
    """
    from pigen.data.catalog.training_set import load_catalog_training_set
    from pigen.generator.catalog_evaluate import build_catalog_reference, evaluate_on_catalog

    catalog = load_catalog_training_set(engine, config.resolution, cache_dir,
                                        skip_incomplete=skip_incomplete, progress=progress)
    evaluator: Evaluator | None = None
    if evaluate:
        reference = build_catalog_reference(catalog, config.background, seed=config.seed)

        def evaluator(model: Generator, step: int) -> dict[str, float]:
            return evaluate_on_catalog(model, reference, n=config.eval_images)

    result = train_on_catalog(config, run_dir, catalog, resume=resume, evaluator=evaluator,
                              progress=progress, stop_after=stop_after)
    return result, catalog
