"""Where the weights that ship with pigen live (package data, so a wheel has them too)."""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
#: The EMA generator trained by ``pigen generator train`` on the built-in recipe.
SHIPPED_GENERATOR = WEIGHTS_DIR / "generator.safetensors"
#: Generators shipped before the current one, oldest first. Registered (inactive)
#: beside it, so "old vs new generator" stays an experiment away.
PREVIOUS_GENERATORS: tuple[Path, ...] = (WEIGHTS_DIR / "generator-v1.safetensors",
                                          WEIGHTS_DIR / "generator-v2.safetensors",
                                          WEIGHTS_DIR / "generator-v3.safetensors")
#: The judge (category + pattern classifier) used by ``pigen generator evaluate``.
SHIPPED_JUDGE = WEIGHTS_DIR / "judge.safetensors"
