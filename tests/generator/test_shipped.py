"""The weights that ship in the repo: they load safely and do what they claim."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from pigen.data.catalog.body_colour import estimate_body_colour
from pigen.data.catalog.palette import delta_e76
from pigen.data.conditions import ConditionLayout
from pigen.generator.checkpoint import load_generator
from pigen.generator.judge import judge_images, load_judge, render_test_set
from pigen.generator.sampling import sample, to_uint8
from pigen.generator.shipped import SHIPPED_GENERATOR, SHIPPED_JUDGE
from pigen.generator.train import random_conditions


@pytest.fixture(scope="module")
def test_shapes() -> tuple[np.ndarray, np.ndarray]:
    from pigen.data.datasets.fashion_mnist import load_fashion_mnist

    test = load_fashion_mnist("test")
    return test.images[:1000], test.labels[:1000]


def test_shipped_judge_is_accurate_on_held_out_real_renders(test_shapes, layout) -> None:
    judge, judge_layout, metrics = load_judge(SHIPPED_JUDGE)
    assert judge_layout == layout
    batch = render_test_set(*test_shapes, layout, seed=123)
    judged = judge_images(judge, (batch.images + 1) * 0.5)
    # Coloured and patterned renders of test shapes; 1,000 of them vary by ~1 point.
    assert (judged.category == batch.labels.numpy()).mean() >= 0.85
    assert (judged.pattern == batch.patterns.numpy()).mean() >= 0.95
    assert metrics["category_accuracy_test"] >= 0.87  # all 10,000 test shapes
    assert metrics["category_accuracy_fashion_mnist_test"] >= 0.88  # white, solid


def test_a_foreign_file_is_not_loaded_as_a_judge(tmp_path: Path) -> None:
    path = tmp_path / "judge.safetensors"
    save_file({"x": torch.zeros(1)}, str(path), metadata={"format": "pigen-generator/1"})
    with pytest.raises(ValueError, match="not a pigen judge"):
        load_judge(path)


def test_shipped_generator_draws_what_it_is_asked(layout: ConditionLayout) -> None:
    loaded = load_generator(SHIPPED_GENERATOR)
    judge, _, _ = load_judge(SHIPPED_JUDGE)
    rng = np.random.default_rng(5)
    conditions = random_conditions(layout, 300, rng)
    images = sample(loaded.model, conditions, np.arange(300))
    judged = judge_images(judge, images)
    categories = conditions[:, layout.category_slice].argmax(1)
    patterns = conditions[:, layout.pattern_slice].argmax(1)
    colours = conditions[:, layout.colour_slice]
    # Sanity bounds, not the targets (see README): a generator ignoring a part of the
    # condition scores ~10% on categories, ~25% on patterns and a median Delta-E of ~78
    # (two independent draws of training colours).
    assert (judged.category == categories).mean() >= 0.6
    assert (judged.pattern == patterns).mean() >= 0.8
    assert np.median(delta_e76(estimate_body_colour(to_uint8(images)), colours)) <= 12
    assert loaded.config.architecture == "parts" and loaded.config.background[0] > 0.5
    assert loaded.metrics["steps"] > 0 and "training_seconds" in loaded.metrics
