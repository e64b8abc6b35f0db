import numpy as np
import pytest
import torch

from pigen.data.conditions import ConditionLayout
from pigen.generator.models import Generator
from pigen.generator.sampling import noise_for_seeds, sample, to_uint8


def _conditions(layout: ConditionLayout, n: int, seed: int = 0) -> np.ndarray:
    from pigen.generator.train import random_conditions

    return random_conditions(layout, n, np.random.default_rng(seed))


def test_same_condition_and_seed_give_the_same_image(tiny_generator: Generator,
                                                     layout: ConditionLayout) -> None:
    conditions = _conditions(layout, 6)
    seeds = [3, 1, 4, 1, 5, 9]
    first, second = sample(tiny_generator, conditions, seeds), sample(tiny_generator,
                                                                      conditions, seeds)
    assert torch.equal(first, second)
    assert first.shape == (6, 3, 32, 32) and first.min() >= 0 and first.max() <= 1


def test_an_image_does_not_depend_on_its_batch(tiny_generator: Generator,
                                               layout: ConditionLayout) -> None:
    conditions = _conditions(layout, 16)
    seeds = list(range(100, 116))
    together = to_uint8(sample(tiny_generator, conditions, seeds))
    alone = to_uint8(sample(tiny_generator, conditions[5:6], seeds[5:6]))
    in_small_batches = to_uint8(sample(tiny_generator, conditions, seeds, batch_size=3))
    assert np.abs(together[5].astype(int) - alone[0].astype(int)).max() <= 1
    assert np.abs(together.astype(int) - in_small_batches.astype(int)).max() <= 1


def test_different_seeds_differ(tiny_generator: Generator, layout: ConditionLayout) -> None:
    conditions = np.repeat(_conditions(layout, 1), 2, axis=0)
    images = sample(tiny_generator, conditions, [1, 2])
    assert (images[0] - images[1]).abs().max() > 1e-3


def test_noise_is_a_function_of_the_seed_alone() -> None:
    assert torch.equal(noise_for_seeds([7, 8], 4)[1], noise_for_seeds([8], 4)[0])
    assert noise_for_seeds([2**64 - 1], 4).shape == (1, 4)
    with pytest.raises(ValueError, match="seed"):
        noise_for_seeds([-1], 4)


def test_bad_inputs_are_refused(tiny_generator: Generator, layout: ConditionLayout) -> None:
    with pytest.raises(ValueError, match="conditions must be"):
        sample(tiny_generator, np.zeros((2, layout.size + 1)), [1, 2])
    with pytest.raises(ValueError, match="seeds for"):
        sample(tiny_generator, _conditions(layout, 2), [1])
    tiny_generator.train()
    with pytest.raises(ValueError, match="eval mode"):
        sample(tiny_generator, _conditions(layout, 1), [1])


def test_to_uint8_rounds_and_orders_channels_last() -> None:
    images = torch.zeros(1, 3, 2, 2)
    images[0, 0] = 1.0
    images[0, 1] = 0.5
    out = to_uint8(images)
    assert out.shape == (1, 2, 2, 3) and out.dtype == np.uint8
    assert out[0, 0, 0].tolist() == [255, 128, 0]
