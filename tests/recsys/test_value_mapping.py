"""ValueMap: each mapping on a known row of stars/counts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from pigen.recsys.config import ALSConfig
from pigen.recsys.value_mapping import ValueMap


def stars() -> sp.csr_matrix:
    return sp.csr_matrix(np.array([[1.0, 3.0, 4.0, 5.0, 0.0]], dtype=np.float32))


def test_raw_keeps_values() -> None:
    assert ValueMap.of(ALSConfig()).apply(stars()).toarray().tolist() == [[1, 3, 4, 5, 0]]


def test_offset_turns_low_ratings_into_dislikes_and_drops_neutral_ones() -> None:
    mapped = ValueMap.of(ALSConfig(value_mapping="offset", value_offset=3.0)).apply(stars())
    assert mapped.toarray().tolist() == [[-2.0, 0.0, 1.0, 2.0, 0.0]]
    assert mapped.nnz == 3


def test_binary_keeps_only_likes_as_ones() -> None:
    mapped = ValueMap.of(ALSConfig(value_mapping="binary", binary_threshold=4.0)).apply(stars())
    assert mapped.toarray().tolist() == [[0.0, 0.0, 1.0, 1.0, 0.0]]
    assert mapped.nnz == 2 and mapped.dtype == np.float32


def test_log_damps_counts_and_refuses_negatives() -> None:
    counts = sp.csr_matrix(np.array([[1.0, 9.0, 99.0]], dtype=np.float32))
    mapped = ValueMap("log").apply(counts)
    np.testing.assert_allclose(mapped.toarray(), [[np.log(2), np.log(10), np.log(100)]],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="non-negative"):
        ValueMap("log").apply(sp.csr_matrix(np.array([[-1.0]], dtype=np.float32)))


def test_apply_does_not_change_its_input() -> None:
    original = stars()
    ValueMap("offset", offset=3.0).apply(original)
    assert original.toarray().tolist() == [[1, 3, 4, 5, 0]]
