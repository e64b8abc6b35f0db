"""The judge's view of an image, its file format, and what evaluation reports."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from pigen.data.catalog.palette import COLOUR_NAMES
from pigen.data.catalog.render import DEFAULT_BACKGROUND
from pigen.data.conditions import ConditionLayout
from pigen.generator.config import GeneratorConfig
from pigen.generator.evaluate import build_reference, class_mean_shapes, evaluate_generator
from pigen.generator.judge import (
    Judge,
    judge_images,
    load_judge,
    render_plain_test_set,
    save_judge,
    train_judge,
)
from pigen.generator.models import build_generator


def test_the_judge_sees_shape_not_contrast(layout: ConditionLayout) -> None:
    """A faint and a strong version of one product (offsets from the backdrop scaled),
    or a lighter and a darker one (offsets negated), look the same to the judge:
    white on light grey is judged like navy."""
    torch.manual_seed(0)
    judge = Judge(layout.n_categories, layout.n_patterns).eval()
    backdrop = torch.tensor(DEFAULT_BACKGROUND).view(1, 3, 1, 1)
    offsets = (torch.rand(2, 3, 32, 32) - 0.5) * 0.3
    strong, faint = backdrop + offsets, backdrop + 0.4 * offsets
    darker = backdrop - 0.5 * offsets.abs()
    lighter = backdrop + 0.3 * offsets.abs()
    with torch.no_grad():
        a, b = judge(strong), judge(faint)
        c, d = judge(darker), judge(lighter)
        other = judge(backdrop + offsets.flip(-2))
    for x, y in zip(a, b, strict=True):
        assert torch.allclose(x, y, atol=1e-4)
    for x, y in zip(c, d, strict=True):
        assert torch.allclose(x, y, atol=1e-4)
    assert not torch.allclose(a[1], other[1], atol=1e-4)  # but it does see the shape


def test_judge_files_keep_their_backdrop_and_refuse_other_formats(
        layout: ConditionLayout, tmp_path: Path) -> None:
    judge = Judge(layout.n_categories, layout.n_patterns, (1.0, 0.9, 0.8))
    path = save_judge(judge, layout, tmp_path / "judge.safetensors", {"epochs": 1})
    loaded, loaded_layout, metrics = load_judge(path)
    assert loaded.background == (1.0, 0.9, 0.8) and loaded_layout == layout
    assert metrics == {"epochs": 1}
    old = tmp_path / "old.safetensors"
    save_file({"x": torch.zeros(1)}, str(old), metadata={"format": "pigen-judge/1"})
    with pytest.raises(ValueError, match="train one with"):
        load_judge(old)


def test_judge_files_keep_their_depth_and_older_files_load_shallow(
        layout: ConditionLayout, tmp_path: Path) -> None:
    deep = Judge(layout.n_categories, layout.n_patterns)
    shallow = Judge(layout.n_categories, layout.n_patterns, deep=False)
    assert len(deep.state_dict()) > len(shallow.state_dict())
    assert load_judge(save_judge(deep, layout, tmp_path / "deep.safetensors"))[0].deep
    path = save_judge(shallow, layout, tmp_path / "shallow.safetensors")
    assert not load_judge(path)[0].deep
    # a file from before the choice (no "deep" in its metadata) holds a shallow judge
    with safe_open(str(path), framework="pt") as handle:
        metadata = {k: v for k, v in (handle.metadata() or {}).items() if k != "deep"}
    before = tmp_path / "before.safetensors"
    save_file(load_file(str(path)), str(before), metadata=metadata)
    assert not load_judge(before)[0].deep


def test_the_judge_reads_an_image_and_its_mirror_together(layout: ConditionLayout) -> None:
    """Predictions come from both views; a mirrored image gets the same answer."""
    torch.manual_seed(0)
    judge = Judge(layout.n_categories, layout.n_patterns).eval()
    images = torch.rand(6, 3, 32, 32)
    a, b = judge_images(judge, images), judge_images(judge, images.flip(-1))
    assert (a.category == b.category).all() and (a.pattern == b.pattern).all()
    assert not np.allclose(a.features, b.features)  # features are the image's own view


def test_the_plain_test_set_is_white_solid_on_the_backdrop(fashion_slice, layout) -> None:
    shapes, labels = fashion_slice
    batch = render_plain_test_set(shapes[:20], labels[:20], layout)
    assert (batch.patterns == layout.pattern_index("solid")).all()
    assert torch.equal(batch.labels, torch.from_numpy(labels[:20].astype(np.int64)))
    assert (batch.colours == 1.0).all()
    corner = (batch.images[:, :, 0, 0] + 1) / 2  # the canvas edge is backdrop
    assert torch.allclose(corner, torch.tensor(DEFAULT_BACKGROUND).expand_as(corner), atol=0.01)


@pytest.fixture(scope="module")
def small_reference(fashion_slice, layout):  # type: ignore[no-untyped-def]
    shapes, labels = fashion_slice
    torch.manual_seed(0)
    judge = Judge(layout.n_categories, layout.n_patterns).eval()
    means = class_mean_shapes(shapes, labels, layout.n_categories)
    return judge, build_reference(judge, layout, shapes, labels, means, n=200)


def test_evaluation_reports_per_category_and_per_colour(small_reference, layout) -> None:
    judge, reference = small_reference
    model = build_generator(GeneratorConfig.tiny(), layout).eval()
    metrics = evaluate_generator(model, judge, reference)
    assert set(metrics["per_category"]) == set(layout.categories)
    for row in metrics["per_category"].values():
        assert set(row) == {"accuracy", "accuracy_real", "fid", "fid_real"}
        assert 0 <= row["accuracy"] <= 1 and row["fid"] >= 0
    assert tuple(metrics["per_colour_delta_e"]) == COLOUR_NAMES  # black and navy included
    assert set(metrics["per_pattern"]) == set(layout.patterns)
    for name, row in metrics["per_pattern"].items():
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["accuracy_real"] <= 1
        assert row["mistaken_for"] in (*layout.patterns, None) and row["mistaken_for"] != name
    for key in ("category_accuracy", "diversity", "fid_ratio_to_class_mean",
                "colour_delta_e_median", "category_accuracy_real", "diversity_real"):
        assert np.isfinite(metrics[key])


def test_a_generator_that_paints_exactly_the_asked_colour_scores_zero_delta_e(
        small_reference, layout) -> None:
    judge, reference = small_reference
    model = build_generator(GeneratorConfig.tiny(), layout).eval()
    with torch.no_grad():
        model.out_conv.bias[0] = 30.0  # opaque everywhere, colour exactly as asked
    metrics = evaluate_generator(model, judge, reference)
    assert max(metrics["per_colour_delta_e"].values()) < 1.0
    assert metrics["colour_delta_e_median"] < 1.0
    # ... and one that paints nothing is far off for every colour.
    with torch.no_grad():
        model.out_conv.bias[0] = -30.0
    empty = evaluate_generator(model, judge, reference)
    assert min(empty["per_colour_delta_e"].values()) > 10  # white, the nearest: ~13


def test_one_judge_scores_products_on_another_backdrop(fashion_slice, layout) -> None:
    """The first generator drew on black: the same judge, told so, sees the same shape."""
    shapes, labels = fashion_slice
    light = render_plain_test_set(shapes[:8], labels[:8], layout)
    black = render_plain_test_set(shapes[:8], labels[:8], layout, background=(0.0, 0.0, 0.0))
    torch.manual_seed(0)
    judge = Judge(layout.n_categories, layout.n_patterns).eval()
    with torch.no_grad():
        on_light = judge((light.images + 1) / 2)[1]
        judge.use_backdrop((0.0, 0.0, 0.0))
        on_black = judge((black.images + 1) / 2)[1]
    assert torch.allclose(on_light, on_black, atol=0.05)


def test_a_judge_can_be_trained_further_from_where_it_stopped(fashion_slice, layout) -> None:
    """``start`` continues that judge (its depth and weights), not a fresh one."""
    shapes, labels = fashion_slice
    shallow = Judge(layout.n_categories, layout.n_patterns, deep=False)
    before = {k: v.clone() for k, v in shallow.state_dict().items()}
    continued = train_judge(shapes[:64], labels[:64], layout, epochs=1, batch_size=32,
                            progress=False, start=shallow, max_lr=1e-3)
    assert not continued.deep and continued.state_dict().keys() == before.keys()
    assert any(not torch.equal(before[k], v) for k, v in continued.state_dict().items())
