"""bench/byo_catalog.py: its foreign recipe delivers the promised variety, and it runs.

The recipe is the bench's premise (a catalog pigen has never seen), so it is
checked for what it promises: sizes, backdrops, JPEG, textures and dyes that
are not pigen's. The bench itself runs end to end at a tiny size; figures are
not checked there.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import foreign_recipe as recipe  # noqa: E402
from byo_catalog import adjusted_rand_index, texture_confusion  # noqa: E402

from pigen.data.catalog.palette import PALETTE, delta_e76, srgb_to_lab  # noqa: E402
from pigen.data.catalog.render import PATTERNS  # noqa: E402
from pigen.data.datasets.fashion_mnist import FashionMNIST, load_fashion_mnist  # noqa: E402


@pytest.fixture(scope="module")
def fashion_test() -> FashionMNIST:
    try:
        return load_fashion_mnist("test", download=False)
    except FileNotFoundError as exc:
        pytest.skip(f"Fashion-MNIST not installed: {exc}")


@pytest.fixture(scope="module")
def catalog(fashion_test: FashionMNIST, tmp_path_factory: pytest.TempPathFactory
            ) -> recipe.ForeignCatalog:
    folder = tmp_path_factory.mktemp("foreign")
    return recipe.build_foreign_catalog(folder, fashion_test.images, fashion_test.labels, 40,
                                        seed=3, progress=False)


def test_store_sees_only_ids_categories_and_images(catalog: recipe.ForeignCatalog) -> None:
    with catalog.catalog_csv.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["item_id", "category", "image"]
    assert len(rows) == 41
    truth = recipe.read_truth(catalog.truth_csv)
    assert truth == list(catalog.items)
    assert {t.category for t in truth} <= set(recipe.CATEGORIES)


def test_photos_vary_in_size_aspect_and_quality(catalog: recipe.ForeignCatalog) -> None:
    sizes = []
    for item in catalog.items:
        with Image.open(catalog.images_dir / item.image) as image:
            assert image.format == "JPEG"
            assert image.size == (item.width, item.height)
            sizes.append(image.size)
    widths, heights = np.array(sizes).T
    assert widths.min() >= 48 and heights.min() >= 48
    assert widths.max() <= 160 and heights.max() <= 160
    assert np.ptp(widths) > 40 and np.ptp(heights) > 40  # really spread over the range
    aspect = np.maximum(widths, heights) / np.minimum(widths, heights)
    assert aspect.max() <= recipe.MAX_ASPECT + 1e-9
    assert np.mean(widths != heights) > 0.8
    qualities = [item.quality for item in catalog.items]
    assert min(qualities) >= 60 and max(qualities) <= 95 and len(set(qualities)) > 10


def test_backdrops_are_light_and_product_sits_off_the_edge(
        catalog: recipe.ForeignCatalog) -> None:
    seen = set()
    for item in catalog.items:
        pixels = np.asarray(Image.open(catalog.images_dir / item.image), dtype=np.float64) / 255
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        expected = np.array(recipe.BACKDROPS[item.backdrop])
        # JPEG, jitter and noise: the border stays within a few levels of the backdrop.
        assert np.abs(np.median(border, axis=0) - expected).max() < 0.04, item
        assert np.median(border.mean(axis=1)) > 0.8
        seen.add(item.backdrop)
    assert seen == set(recipe.BACKDROPS)


def test_all_four_textures_and_palette_colours(catalog: recipe.ForeignCatalog) -> None:
    textures = [item.texture for item in catalog.items]
    assert sorted(set(textures)) == sorted(recipe.TEXTURES)
    assert np.ptp(np.unique(textures, return_counts=True)[1]) <= 1  # balanced
    assert {item.colour_name for item in catalog.items} <= set(recipe.FOREIGN_PALETTE)
    assert len({item.colour_name for item in catalog.items}) >= 6
    for item in catalog.items:
        assert recipe.FOREIGN_PALETTE[item.colour_name] == pytest.approx(
            tuple(int(item.colour[i:i + 2], 16) / 255 for i in (1, 3, 5)), abs=1 / 255)


def test_recipe_is_not_pigens() -> None:
    assert set(recipe.TEXTURES) & set(PATTERNS) == {"solid"}
    assert not set(recipe.FOREIGN_PALETTE) & set(PALETTE)
    ours = np.array(list(recipe.FOREIGN_PALETTE.values()))
    theirs = np.array(list(PALETTE.values()))
    distance = np.linalg.norm(srgb_to_lab(ours)[:, None] - srgb_to_lab(theirs)[None], axis=2)
    assert distance.min() > 5  # no dye is one of pigen's colours in disguise
    backdrops = np.array(list(recipe.BACKDROPS.values()))
    assert all(delta_e76(ours, np.repeat(b[None], len(ours), 0)).min() > 30 for b in backdrops)


@pytest.mark.parametrize("texture", recipe.TEXTURES)
def test_body_colour_keeps_the_majority(texture: str) -> None:
    rng = np.random.default_rng(0)
    for side in (40, 90, 150):
        weight = recipe.texture_weight(texture, side, rng)
        plain = np.mean(weight < 0.2)  # within a fifth of the way to the line tone
        if texture == "solid":
            assert plain == 1.0
        else:
            assert 0.5 <= plain <= 0.85, (texture, side, plain)
            assert weight.max() >= 0.8  # and the texture does show


def test_gradient_runs_across_the_product_not_its_square() -> None:
    """A narrow product (a trouser leg) still shows its ombre: the ramp spans the
    product's own pixels, so a photo labelled gradient is one."""
    side = 100
    product = np.zeros((side, side), dtype=bool)
    product[:, 40:60] = True  # a 20 px wide band in a 100 px square
    for seed in range(20):
        weight = recipe.texture_weight("gradient", side, np.random.default_rng(seed), product)
        inside = weight[product]
        assert inside.max() >= 0.8, seed  # the ombre shows on the product
        assert 0.5 <= np.mean(inside < 0.2) <= 0.85, seed  # and the dye keeps the majority


def test_same_seed_same_photos(fashion_test: FashionMNIST, tmp_path: Path) -> None:
    a = recipe.build_foreign_catalog(tmp_path / "a", fashion_test.images, fashion_test.labels,
                                     6, seed=5, progress=False)
    b = recipe.build_foreign_catalog(tmp_path / "b", fashion_test.images, fashion_test.labels,
                                     6, seed=5, progress=False)
    assert a.items == b.items
    for item in a.items:
        assert (a.images_dir / item.image).read_bytes() == (b.images_dir / item.image
                                                            ).read_bytes()


def test_instrument_draws_avoid_catalog_shapes(fashion_test: FashionMNIST) -> None:
    catalog = recipe.draw_items(fashion_test.images, fashion_test.labels, 50, seed=0)
    used = [d[0] for d in catalog]
    others = recipe.draw_items(fashion_test.images, fashion_test.labels, 500, seed=1,
                               exclude=used)
    assert not {d[0] for d in others} & set(used)


def test_adjusted_rand_index_known_values() -> None:
    assert adjusted_rand_index("aabbcc", [2, 2, 0, 0, 1, 1]) == pytest.approx(1.0)
    # sklearn's documented example: [0, 0, 1, 1] vs [0, 0, 1, 2] -> 0.571...
    assert adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    assert adjusted_rand_index([0, 0, 0, 0], [0, 1, 2, 3]) == pytest.approx(0.0)


def test_texture_confusion_counts_each_item_once_by_true_and_read_texture() -> None:
    truth = [0, 0, 1, 3, 3, 3]
    read = np.array([0, 1, 1, 3, 0, 3])
    table = texture_confusion(truth, read)
    assert list(table) == list(recipe.TEXTURES)
    assert table[recipe.TEXTURES[0]] == [1, 1, 0, 0]
    assert table[recipe.TEXTURES[1]] == [0, 1, 0, 0]
    assert table[recipe.TEXTURES[2]] == [0, 0, 0, 0]
    assert table[recipe.TEXTURES[3]] == [1, 0, 0, 2]


TINY_GENERATOR = ("z_dim=16", "g_channels=32", "condition_embedding=16", "d_channels=8",
                  "batch_size=8", "ema_start=0")


@pytest.mark.slow
def test_bench_runs_end_to_end(tmp_path: Path) -> None:
    """Every stage at a tiny size: photos, ingest, extraction, training, both instruments."""
    pytest.importorskip("pigen.data.catalog.extract")
    out = tmp_path / "byo.json"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "byo_catalog.py", "--items", "24", "--encoder-steps", "3",
         "--train-steps", "2", *(p for s in TINY_GENERATOR for p in ("--train-set", s)),
         "--judge-items", "128", "--judge-epochs", "1", "--no-progress",
         "--json", str(out), "--keep", str(tmp_path / "run")],
        cwd=BENCH, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    for text in ("colour Delta-E (CIE76) median", "texture ARI vs true textures",
                 "true texture x pigen's group", "generated category accuracy (real)",
                 "generated texture accuracy (real)"):
        assert text in result.stdout, result.stdout[-3000:]
    figures = json.loads(out.read_text())
    extraction = figures["extraction"]
    assert extraction["items"] == 24
    assert extraction["scored"] + extraction["unscored"] == 24
    assert extraction["scored"] >= 20
    assert 0 <= extraction["colour_delta_e_median"] <= extraction["colour_delta_e_p90"]
    assert -1 <= extraction["texture_ari"] <= 1
    training = figures["training"]
    assert training["judged_items"] >= 20
    assert set(training["layout"]["categories"]) <= set(recipe.CATEGORIES)
    for name in ("category_accuracy_real", "category_accuracy_generated",
                 "texture_accuracy_real", "texture_accuracy_generated"):
        assert 0 <= training[name] <= 1, name
    for source in ("real", "generated"):  # the table's diagonal is the accuracy
        read = np.array(list(training[f"texture_read_{source}"].values()))
        assert read.trace() / read.sum() == pytest.approx(training[f"texture_accuracy_{source}"])
    assert (tmp_path / "run" / "catalog" / "truth.csv").is_file()
    assert (tmp_path / "run" / "generated.png").is_file()
    # --reuse scores the kept catalog again with given weights: nothing rebuilt or retrained
    weights = tmp_path / "run" / "run" / "generator.safetensors"
    again = tmp_path / "again.json"
    result = subprocess.run(
        [sys.executable, "byo_catalog.py", "--reuse", str(tmp_path / "run"), "--weights",
         str(weights), "--judge-items", "128", "--judge-epochs", "1", "--no-progress",
         "--json", str(again)], cwd=BENCH, capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    rescored = json.loads(again.read_text())
    assert rescored["extraction"] == extraction  # the same store, read again
    assert rescored["training"]["weights"] == str(weights)
    assert "photos" not in rescored["seconds"] and "train" in rescored["seconds"]
    refused = subprocess.run([sys.executable, "byo_catalog.py", "--weights", str(weights)],
                             cwd=BENCH, capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and "--weights needs --reuse" in refused.stderr
