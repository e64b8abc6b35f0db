"""GeneratorConfig: every generator and training hyperparameter in one typed place.

Saved inside every checkpoint and beside every shipped weight file, so a model
can always be rebuilt exactly as it was trained.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[str, ...] = get_args(Device)
SUPPORTED_RESOLUTIONS = (32, 64)


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture and training settings of the conditional GAN.

    The architecture is a DCGAN-shaped stack (transposed convolutions double the
    resolution from 4x4) with conditional batch-norm, against a spectral-norm
    discriminator with a projection head (Miyato & Koyama 2018).
    """

    # -- architecture ------------------------------------------------------------------
    # Output side in pixels; 32 for the built-in catalog, 64 for users' own catalogs.
    resolution: int = 32
    # Length of the noise vector z; 64 is plenty for one product on black.
    z_dim: int = 64
    # Channels of the 4x4 base; every upsampling halves them. 192 keeps generation
    # near 30 MFLOP per 32x32 image, inside the CPU throughput budget.
    g_channels: int = 192
    # Size of the embedding the whole condition vector is mapped to before it
    # drives every conditional batch-norm.
    condition_embedding: int = 128
    # Discriminator width at 16x16; doubles at each halving of the resolution.
    d_channels: int = 64
    # -- training ----------------------------------------------------------------------
    batch_size: int = 64
    # Adam, SNGAN's setting C (lr 2e-4, betas 0.5/0.999, one D step per G step):
    # stable with spectral norm and the cheapest per step on a CPU.
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int = 1
    # EMA of the generator's weights; the EMA copy makes every sample.
    ema_decay: float = 0.999
    # Steps before the EMA starts tracking (early weights are noise).
    ema_start: int = 500
    # DiffAugment on real and fake images for D: translation and cutout only.
    # Never colour: colour is part of the condition.
    augment: bool = True
    # Fraction of training colours drawn from the palette (plus jitter); the rest
    # are uniform RGB, so any #rrggbb a merchandiser asks for has been seen.
    palette_fraction: float = 0.5
    colour_jitter: float = 0.08
    steps: int = 20_000
    checkpoint_every: int = 500
    eval_every: int = 1_000
    # Images per evaluation during training (the final evaluate uses more).
    eval_images: int = 2_000
    seed: int = 0
    device: Device = "auto"
    # bf16 autocast and channels_last on CUDA (ignored on CPU).
    mixed_precision: bool = True
    # Torch threads on CPU; 0 = torch's default (all cores).
    num_threads: int = 0

    def __post_init__(self) -> None:
        _check_types(self)
        problems: list[str] = []
        if self.resolution not in SUPPORTED_RESOLUTIONS:
            problems.append(f"resolution must be one of {SUPPORTED_RESOLUTIONS}, "
                            f"got {self.resolution}")
        for name in ("z_dim", "g_channels", "condition_embedding", "d_channels", "batch_size",
                     "d_steps", "steps", "checkpoint_every", "eval_every", "eval_images"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.g_channels % (self.resolution // 4) != 0:
            problems.append(f"g_channels ({self.g_channels}) must be divisible by "
                            f"{self.resolution // 4} (it halves at every upsampling)")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                problems.append(f"{name} must be finite and > 0, got {value}")
        for name in ("beta1", "beta2", "ema_decay", "palette_fraction"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                problems.append(f"{name} must be in [0, 1], got {value}")
        if self.colour_jitter < 0 or self.ema_start < 0 or self.seed < 0 or self.num_threads < 0:
            problems.append("colour_jitter, ema_start, seed and num_threads must be >= 0")
        if self.device not in DEVICES:
            problems.append(f"device must be one of {DEVICES}, got {self.device!r}")
        if problems:
            raise ValueError("invalid GeneratorConfig: " + "; ".join(problems))

    @property
    def n_upsamplings(self) -> int:
        """4x4 -> resolution, doubling each time: 3 for 32 px, 4 for 64 px."""
        return int(math.log2(self.resolution // 4))

    def replace(self, **changes: Any) -> GeneratorConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GeneratorConfig:
        """Build from a mapping; unknown keys are an error (a typo must not be ignored)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown GeneratorConfig keys: {unknown}; known: {sorted(known)}")
        return cls(**dict(values))

    @classmethod
    def tiny(cls, **changes: Any) -> GeneratorConfig:
        """A seconds-to-train config for tests and smoke runs."""
        base = cls(z_dim=16, g_channels=32, condition_embedding=16, d_channels=8, batch_size=8,
                   steps=4, checkpoint_every=2, eval_every=2, eval_images=32, ema_start=0)
        return base.replace(**changes)


def _check_types(config: GeneratorConfig) -> None:
    """Reject wrong types early (JSON gives floats for ints, strings for anything)."""
    for field in fields(config):
        value = getattr(config, field.name)
        expected = field.type if isinstance(field.type, str) else field.type.__name__
        if expected == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{field.name} must be an int, got {value!r}")
        if expected == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{field.name} must be a number, got {value!r}")
            object.__setattr__(config, field.name, float(value))
        if expected == "bool" and not isinstance(value, bool):
            raise ValueError(f"{field.name} must be true or false, got {value!r}")
