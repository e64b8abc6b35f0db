"""Fixtures for dataset-loader tests: the Debian copy of Fashion-MNIST, when installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pigen.data.datasets.fashion_mnist import DEBIAN_DIR, FILE_STEMS


@pytest.fixture(scope="session")
def debian_fashion_dir() -> Path:
    """Debian's Fashion-MNIST folder; skips the test when the package is not installed."""
    stems = [stem for pair in FILE_STEMS.values() for stem in pair]
    if not all((DEBIAN_DIR / f"{stem}.gz").is_file() for stem in stems):
        pytest.skip(f"Fashion-MNIST not in {DEBIAN_DIR}: apt-get install -y dataset-fashion-mnist")
    return DEBIAN_DIR
