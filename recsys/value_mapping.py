"""What a stored value means to ALS: raw, offset, liked-only (binary) or log-count.

Applied before the confidence weighting, to training rows and to every row
folded in later alike, so a shopper's fresh ratings mean what training meant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from pigen.recsys.config import ALSConfig, ValueMapping


@dataclass(frozen=True)
class ValueMap:
    """One mapping and its parameter; :meth:`apply` returns a new float32 CSR."""

    mapping: ValueMapping = "raw"
    offset: float = 0.0  # "offset": subtracted; negatives are dislikes
    threshold: float = 4.0  # "binary": values >= threshold become 1, the rest dropped

    @classmethod
    def of(cls, config: ALSConfig) -> ValueMap:
        """The mapping an :class:`ALSConfig` asks for."""
        return cls(config.value_mapping, config.value_offset, config.binary_threshold)

    def apply(self, user_items: sp.csr_matrix) -> sp.csr_matrix:
        """Mapped (users x items) values; entries that map to 0 are dropped."""
        out = sp.csr_matrix(user_items, dtype=np.float32, copy=True)
        if self.mapping == "offset":
            out.data -= np.float32(self.offset)
        elif self.mapping == "binary":
            out.data = (out.data >= self.threshold).astype(np.float32)
        elif self.mapping == "log":
            if (out.data < 0).any():
                raise ValueError("value_mapping 'log' needs non-negative values (counts)")
            out.data = np.log1p(out.data)
        out.eliminate_zeros()
        return out
