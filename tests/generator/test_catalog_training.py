"""Training on a store's own catalog: reading and caching it, its layout, exact resume."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import Engine, update

from pigen.data.catalog.training_set import (
    CatalogTrainingSet,
    IncompleteCatalog,
    load_catalog_training_set,
)
from pigen.data.conditions import ConditionLayout
from pigen.data.database import session_scope
from pigen.data.ingest import ingest_catalog_frame
from pigen.data.ingest.catalog import CatalogOptions
from pigen.data.schema import Item
from pigen.generator.catalog_evaluate import build_catalog_reference, evaluate_on_catalog
from pigen.generator.catalog_training import CatalogStream, layout_of, train_on_catalog
from pigen.generator.checkpoint import load_checkpoint, load_generator
from pigen.generator.config import GeneratorConfig
from tests.conftest import sqlite_engine_at
from tests.utils.photo_catalog import CATEGORIES, PATTERNS, write_photo_catalog

LAYOUT = ConditionLayout(CATEGORIES, PATTERNS)


def photo_store(engine: Engine, folder: Path, n_items: int = 12,
                with_attributes: bool = True) -> Engine:
    frame = write_photo_catalog(folder, n_items, with_attributes)
    ingest_catalog_frame(engine, frame, options=CatalogOptions(images_dir=folder))
    return engine


@pytest.fixture(scope="module")
def catalog_32(tmp_path_factory: pytest.TempPathFactory) -> CatalogTrainingSet:
    root = tmp_path_factory.mktemp("photos")
    engine = photo_store(sqlite_engine_at(root / "pigen.db"), root / "photos")
    try:
        return load_catalog_training_set(engine, 32, root / "cache", progress=False)
    finally:
        engine.dispose()


def test_the_catalog_is_read_prepared_and_cached(engine: Engine, tmp_path: Path) -> None:
    photo_store(engine, tmp_path / "photos")
    first = load_catalog_training_set(engine, 64, tmp_path / "cache", progress=False)
    assert len(first) == 12 and first.prepared_now == 12 and not first.skipped
    assert first.images.shape == (12, 64, 64, 3) and first.masks.shape == (12, 64, 64)
    assert layout_of(first) == LAYOUT  # sorted distinct names: not the built-in layout
    assert first.colours[0] == pytest.approx(np.array([0xb0, 0x3a, 0x2e]) / 255)
    again = load_catalog_training_set(engine, 64, tmp_path / "cache", progress=False)
    assert again.prepared_now == 0 and again.fingerprint() == first.fingerprint()
    # a changed file (its mtime) is prepared again, and only it
    photo = tmp_path / "photos" / "photo-003.png"
    os.utime(photo, ns=(photo.stat().st_atime_ns, photo.stat().st_mtime_ns + 10**9))
    assert load_catalog_training_set(engine, 64, tmp_path / "cache",
                                     progress=False).prepared_now == 1


def test_items_without_colour_or_pattern_are_refused_or_skipped(engine: Engine,
                                                                tmp_path: Path) -> None:
    photo_store(engine, tmp_path / "photos", n_items=6)
    with session_scope(engine) as session:
        session.execute(update(Item).where(Item.external_id.in_(["p-001", "p-004"]))
                        .values(colour=None, pattern=None))
    with pytest.raises(IncompleteCatalog, match="pigen catalog extract"):
        load_catalog_training_set(engine, 32, tmp_path / "cache", progress=False)
    found = load_catalog_training_set(engine, 32, tmp_path / "cache", skip_incomplete=True,
                                      progress=False)
    assert found.item_ids == ("p-000", "p-002", "p-003", "p-005")
    assert found.skipped == [("p-001", "no colour or pattern"), ("p-004", "no colour or pattern")]


def test_a_store_with_no_attributes_at_all_names_the_extract_command(engine: Engine,
                                                                     tmp_path: Path) -> None:
    photo_store(engine, tmp_path / "photos", n_items=4, with_attributes=False)
    with pytest.raises(IncompleteCatalog, match="4 of 4 items.*pigen catalog extract"):
        load_catalog_training_set(engine, 32, tmp_path / "cache", progress=False)


def test_fake_conditions_are_the_catalogs_triples_with_jittered_colour(catalog_32) -> None:
    stream = CatalogStream(catalog_32, LAYOUT, seed=1, background=(0.85, 0.85, 0.85))
    batch = stream.next_batch(64)
    assert batch.fake_conditions is not None
    triples = {(c, p) for c, p in zip(catalog_32.categories, catalog_32.patterns, strict=True)}
    fake = batch.fake_conditions.numpy()
    asked = {(LAYOUT.categories[c], LAYOUT.patterns[p]) for c, p in zip(
        fake[:, LAYOUT.category_slice].argmax(1), fake[:, LAYOUT.pattern_slice].argmax(1),
        strict=True)}
    assert asked <= triples
    colours = fake[:, LAYOUT.colour_slice]
    nearest = np.abs(colours[:, None] - catalog_32.colours[None]).max(-1).min(-1)  # (B,)
    assert 0 < np.median(nearest) < 0.2  # jittered around the items' colours, not uniform
    # real images carry their own items' conditions, on the generator's backdrop
    assert batch.images.shape == (64, 3, 32, 32)
    assert batch.images[:, :, 0, 0].numpy() == pytest.approx(0.85 * 2 - 1, abs=1e-5)


@pytest.mark.slow
def test_killed_and_resumed_catalog_run_equals_a_straight_one(tmp_path: Path,
                                                              catalog_32) -> None:
    # with the catalog default's texture planes: their bank resumes exactly too
    config = GeneratorConfig.tiny(resolution=32, num_threads=1, texture_planes=4)
    straight = train_on_catalog(config, tmp_path / "straight", catalog_32, progress=False)
    train_on_catalog(config, tmp_path / "resumed", catalog_32, progress=False, stop_after=2)
    resumed = train_on_catalog(config, tmp_path / "resumed", catalog_32, progress=False,
                               resume=True)
    assert straight.steps == resumed.steps == 4
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    for part in ("generator", "discriminator", "ema"):
        for key, tensor in a[part].items():
            assert torch.equal(tensor, b[part][key]), (part, key)
    assert [r["loss_g"] for r in straight.metrics] == [r["loss_g"] for r in resumed.metrics]
    loaded = load_generator(straight.weights)
    assert loaded.layout == LAYOUT and loaded.model.condition_size == 3 + 3 + 2
    record = json.loads((tmp_path / "straight" / "catalog.json").read_text())
    assert record["items"] == len(catalog_32) and record["layout"]["patterns"] == list(PATTERNS)


@pytest.mark.slow
def test_resume_on_a_changed_catalog_is_refused(tmp_path: Path, catalog_32) -> None:
    config = GeneratorConfig.tiny(resolution=32, num_threads=1)
    train_on_catalog(config, tmp_path, catalog_32, progress=False, stop_after=2)
    changed = CatalogTrainingSet(
        catalog_32.item_ids, catalog_32.categories, catalog_32.colours[::-1].copy(),
        catalog_32.patterns, catalog_32.images, catalog_32.masks)
    with pytest.raises(ValueError, match="another catalog"):
        train_on_catalog(config, tmp_path, changed, progress=False, resume=True)


def test_catalog_figures_need_no_judge(catalog_32) -> None:
    from pigen.generator.models import build_generator

    reference = build_catalog_reference(catalog_32, (0.85, 0.85, 0.85))
    assert reference.references["fid_catalog_floor"] < reference.references["fid_catalog_noise"]
    assert reference.references["colour_delta_e_median_real"] < 10  # photos match labels
    torch.manual_seed(0)
    model = build_generator(GeneratorConfig.tiny(resolution=32), LAYOUT).eval()
    metrics = evaluate_on_catalog(model, reference, n=48)
    assert {"fid_catalog", "colour_delta_e_median", "diversity", "fid_catalog_floor",
            "diversity_real"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())
