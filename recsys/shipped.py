"""ALS configs that ship with pigen (package data, so any working directory finds them).

``configs/als_taste.json`` at the repository root is a link to the file here.
"""

from __future__ import annotations

from pathlib import Path

CONFIGS_DIR = Path(__file__).parent / "configs"
#: What ``pigen demo`` trains with: tuned for the taste bridge (1-2 stars become
#: dislikes through value_offset=3), not for ranking metrics.
TASTE_CONFIG = CONFIGS_DIR / "als_taste.json"
