"""Shared fixtures: a small slice of real Fashion-MNIST and tiny generators."""

from __future__ import annotations

import numpy as np
import pytest

from pigen.data.conditions import ConditionLayout
from pigen.generator.config import GeneratorConfig
from pigen.generator.models import Generator, build_generator


@pytest.fixture(scope="session")
def layout() -> ConditionLayout:
    return ConditionLayout.builtin()


@pytest.fixture(scope="session")
def fashion_slice() -> tuple[np.ndarray, np.ndarray]:
    """600 real training shapes (60 per class) and their labels."""
    from pigen.data.datasets.fashion_mnist import load_fashion_mnist

    train = load_fashion_mnist("train")
    picks = np.concatenate([np.flatnonzero(train.labels == c)[:60] for c in range(10)])
    return train.images[picks], train.labels[picks]


@pytest.fixture
def tiny_generator(layout: ConditionLayout) -> Generator:
    import torch

    torch.manual_seed(0)
    model = build_generator(GeneratorConfig.tiny(), layout)
    # The condition and noise maps start at zero (each part earns its influence in
    # training); tests that check what each part does need them switched on.
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.normal_(0.0, 0.3)
    return model.eval()
