"""Fixtures for catalog tests: real Fashion-MNIST splits, loaded once per session."""

from __future__ import annotations

import pytest

from pigen.data.datasets.fashion_mnist import FashionMNIST, load_fashion_mnist


def _load(split: str) -> FashionMNIST:
    try:
        return load_fashion_mnist(split, download=False)  # type: ignore[arg-type]
    except FileNotFoundError as exc:
        pytest.skip(f"Fashion-MNIST not installed: {exc}")


@pytest.fixture(scope="session")
def fashion_train() -> FashionMNIST:
    return _load("train")


@pytest.fixture(scope="session")
def fashion_test() -> FashionMNIST:
    return _load("test")
