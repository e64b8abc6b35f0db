import numpy as np
import pytest
import torch

from pigen.data.catalog.palette import PALETTE
from pigen.data.conditions import ConditionLayout, one_hot
from pigen.generator.config import GeneratorConfig
from pigen.generator.models import (
    Generator,
    PartsDiscriminator,
    PartsGenerator,
    TexturePlanes,
    build_discriminator,
    build_generator,
    count_parameters,
    generator_flops_per_image,
)


@pytest.mark.parametrize("architecture", ["parts", "dcgan"])
@pytest.mark.parametrize("resolution", [32, 64])
def test_shapes_and_value_ranges(layout: ConditionLayout, resolution: int,
                                 architecture: str) -> None:
    config = GeneratorConfig.tiny(resolution=resolution, architecture=architecture)
    g, d = build_generator(config, layout), build_discriminator(config, layout)
    z, c = torch.randn(4, config.z_dim), torch.rand(4, layout.size)
    images = g(z, c)
    assert images.shape == (4, 3, resolution, resolution)
    assert images.min() >= -1 and images.max() <= 1
    assert d(images, c).shape == (4,)


def test_default_generator_fits_the_cpu_budget(layout: ConditionLayout) -> None:
    g = build_generator(GeneratorConfig(), layout)
    assert isinstance(g, PartsGenerator)
    # bench/generator_throughput.py measures the 1,500 images/s this size allows.
    assert 15e6 < generator_flops_per_image(g) < 40e6
    assert count_parameters(g) < 1_500_000


def _condition(layout, category="Dress", colour="red", pattern="solid"):
    return torch.from_numpy(one_hot(layout, category, PALETTE[colour], pattern).to_array())[None]


@pytest.mark.parametrize(
    "change", [{"category": "Sneaker"}, {"colour": "blue"}, {"pattern": "striped"}]
)
def test_each_condition_part_changes_the_output(tiny_generator: Generator,
                                                layout: ConditionLayout, change: dict) -> None:
    z = torch.randn(1, tiny_generator.config.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        base = tiny_generator(z, _condition(layout))
        other = tiny_generator(z, _condition(layout, **change))
    assert (base - other).abs().max() > 1e-4


def test_noise_changes_the_output(tiny_generator: Generator, layout: ConditionLayout) -> None:
    z = torch.randn(2, tiny_generator.config.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        images = tiny_generator(z, _condition(layout).repeat(2, 1))
    assert (images[0] - images[1]).abs().max() > 1e-4


@pytest.mark.parametrize("background", [(0.85, 0.85, 0.85), (1.0, 0.9, 0.8), (0.0, 0.0, 0.0)])
def test_output_is_composited_on_the_configured_background(layout: ConditionLayout,
                                                           background: tuple) -> None:
    g = build_generator(GeneratorConfig.tiny(background=background), layout).eval()
    z = torch.randn(3, g.config.z_dim)
    condition = _condition(layout, colour="navy").repeat(3, 1)
    with torch.no_grad():
        g.out_conv.bias[0] = -30.0  # fully transparent: nothing but backdrop
        empty = (g(z, condition) + 1) / 2
        g.out_conv.bias[0] = 30.0  # fully opaque, no colour change: the asked colour
        full = (g(z, condition) + 1) / 2
    assert torch.allclose(empty, torch.tensor(background).view(1, 3, 1, 1).expand_as(empty),
                          atol=1e-5)
    navy = torch.tensor(PALETTE["navy"]).view(1, 3, 1, 1)
    assert torch.allclose(full, navy.expand_as(full), atol=1e-5)


def test_texture_planes_are_the_patterns_bank_wrapped_by_the_noise() -> None:
    planes = TexturePlanes(n_patterns=3, channels=2, resolution=8)
    pattern = torch.tensor([[0.0, 1.0, 0.0]] * 2)
    colour = torch.rand(2, 3)
    z = torch.zeros(2, 16)
    z[1, :2] = torch.tensor([1.0, 2.0]) / 997.0  # shift down 1, right 2
    out = planes.wrapped(pattern, colour, z)
    assert out.shape == (2, 2, 8, 8)
    bank = planes.planes[1]
    assert torch.allclose(out[0], bank)  # gain starts at 1: the bank itself
    assert torch.allclose(out[1], bank.roll(shifts=(-1, -2), dims=(1, 2)))
    # A mixed pattern reads the mixture of banks.
    half = planes.wrapped(torch.tensor([[0.5, 0.5, 0.0]]), colour[:1], z[:1])
    assert torch.allclose(half[0], (planes.planes[0] + planes.planes[1]) / 2, atol=1e-6)


def test_texture_planes_reach_the_body_colour_only_and_train(layout: ConditionLayout) -> None:
    config = GeneratorConfig.tiny(resolution=32, texture_planes=4)
    g = build_generator(config, layout)
    assert isinstance(g, PartsGenerator) and g.textures is not None
    assert GeneratorConfig.tiny().texture_planes == 0  # the built-in path has none
    with torch.no_grad():
        g.out_conv.weight.normal_(0, 0.1)
        g.textures.to_rgb.weight.normal_(0, 0.1)
    z = torch.randn(2, config.z_dim)
    c = _condition(layout, pattern="striped").repeat(2, 1)
    g(z, c).square().mean().backward()
    grad = g.textures.planes.grad
    assert grad is not None
    striped = layout.pattern_index("striped")
    assert grad[striped].abs().sum() > 0  # the asked pattern's bank learns ...
    others = [i for i in range(layout.n_patterns) if i != striped]
    assert grad[others].abs().sum() == 0  # ... and no other
    # Other planes change the body colour, never the opacity (no print off the product).
    g.eval()
    with torch.no_grad():
        alpha, body = g.layers(z, c)
        g.textures.planes.mul_(-3.0)
        alpha_after, body_after = g.layers(z, c)
    assert torch.equal(alpha, alpha_after)
    assert (body - body_after).abs().max() > 1e-3


@pytest.mark.parametrize("padding", ["zeros", "reflect"])
def test_reflect_padding_keeps_a_uniform_backdrop_uniform_to_the_edge(
        layout: ConditionLayout, padding: str) -> None:
    """Zero padding makes border pixels differ from interior ones (frames along the
    edge until G learns to undo it); reflect padding does not."""
    config = GeneratorConfig.tiny(resolution=32, g_padding=padding)
    g = build_generator(config, layout).eval()
    assert isinstance(g, PartsGenerator)
    convs = [block.conv for block in g.blocks] + [g.out_conv]
    assert {conv.padding_mode for conv in convs} == {padding}
    with torch.no_grad():
        g.out_conv.weight.normal_(0, 0.1)
        uniform = torch.ones(1, g.out_conv.in_channels, 8, 8)
        out = g.out_conv(uniform)
    spread = (out - out[..., 4:5, 4:5]).abs().max().item()
    assert (spread < 1e-6) if padding == "reflect" else (spread > 1e-3)


def test_discriminator_asks_each_part_its_own_question(layout: ConditionLayout) -> None:
    """No map shared by category and colour: the category's effect on the logit
    is the same whatever the colour (the logit is a sum over parts)."""
    torch.manual_seed(0)
    d = build_discriminator(GeneratorConfig.tiny(), layout).eval()  # no power iterations
    assert isinstance(d, PartsDiscriminator)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        def logit(**part):
            return float(d(x, _condition(layout, **part)))
        red = logit(category="Sneaker", colour="red") - logit(category="Dress", colour="red")
        blue = logit(category="Sneaker", colour="blue") - logit(category="Dress", colour="blue")
    assert red != 0.0
    assert red == pytest.approx(blue, abs=1e-5)


def test_the_category_classifier_is_there_only_when_trained_with_one(
        layout: ConditionLayout) -> None:
    torch.manual_seed(0)
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    c = _condition(layout).expand(5, -1)
    with_classifier = build_discriminator(GeneratorConfig.tiny(), layout).eval()
    assert isinstance(with_classifier, PartsDiscriminator)
    with torch.no_grad():
        logit, classes, patterns = with_classifier.score(x, c)
        assert torch.equal(logit, with_classifier(x, c))  # forward is the realness logit
    assert classes is not None and classes.shape == (5, layout.n_categories)
    assert patterns is not None and patterns.shape == (5, layout.n_patterns)
    # "sum" reads the pooled features whole, "mean" the same divided by the map's area.
    mean = build_discriminator(GeneratorConfig.tiny(classifier_pooling="mean"), layout).eval()
    mean.load_state_dict(with_classifier.state_dict())
    with torch.no_grad():
        mean_classes = mean.score(x, c)[1]
        bias = with_classifier.classifier.bias
        assert mean_classes is not None and torch.allclose(
            (classes - bias) / 16, mean_classes - bias, atol=1e-5)
    without = build_discriminator(GeneratorConfig.tiny(category_loss_weight=0.0), layout)
    assert isinstance(without, PartsDiscriminator) and without.classifier is None
    assert without.score(x, c).categories is None
    no_patterns = build_discriminator(GeneratorConfig.tiny(pattern_loss_weight=0.0), layout)
    assert isinstance(no_patterns, PartsDiscriminator)
    assert no_patterns.pattern_classifier is None and no_patterns.score(x, c).patterns is None
    with_patterns = build_discriminator(GeneratorConfig.tiny(), layout)
    # registered last: a resumed run's saved optimiser slots keep their parameters
    assert list(with_patterns.state_dict())[-2:] == ["pattern_classifier.weight",
                                                     "pattern_classifier.bias"]


def test_minibatch_std_lets_the_discriminator_see_a_collapsed_batch(
        layout: ConditionLayout) -> None:
    torch.manual_seed(0)
    d = build_discriminator(GeneratorConfig.tiny(), layout).eval()
    c = _condition(layout).repeat(8, 1)
    varied = torch.rand(8, 3, 32, 32) * 2 - 1
    same = varied[:1].repeat(8, 1, 1, 1)
    with torch.no_grad():
        # the first image's logit depends on its batch-mates only through the batch's spread
        alone = d(torch.cat([varied[:1], same[1:]]), c)[0]
        mixed = d(varied, c)[0]
    assert float(alone) != pytest.approx(float(mixed), abs=1e-6)
    no_std = build_discriminator(GeneratorConfig.tiny(minibatch_std=False), layout).eval()
    with torch.no_grad():
        assert float(no_std(torch.cat([varied[:1], same[1:]]), c)[0]) == pytest.approx(
            float(no_std(varied, c)[0]), abs=1e-5)


def test_spectral_norm_bounds_discriminator_layers(layout: ConditionLayout) -> None:
    d = build_discriminator(GeneratorConfig.tiny(), layout)
    for _ in range(5):  # power iterations run in training-mode forwards
        d(torch.rand(8, 3, 32, 32) * 2 - 1, torch.rand(8, layout.size))
    conv = d.features[0]
    with torch.no_grad():
        sigma = float(torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2))
    assert np.isfinite(sigma) and sigma == pytest.approx(1.0, abs=0.3)
