"""GeneratorConfig: every generator and training hyperparameter in one typed place.

Saved inside every checkpoint and beside every shipped weight file, so a model
can always be rebuilt exactly as it was trained. One idiom with every other
config (:class:`~pigen.data.typed_config.TypedConfig`): unknown keys, wrong
types, ranges and cross-field rules all raise ``ConfigError``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, model_validator

from pigen.data.catalog.render import DEFAULT_BACKGROUND
from pigen.data.typed_config import TypedConfig

Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[str, ...] = get_args(Device)
Architecture = Literal["parts", "dcgan"]
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)
SUPPORTED_RESOLUTIONS = (32, 64)
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[int, Field(ge=1)]


class GeneratorConfig(TypedConfig):
    """Architecture and training settings of the conditional GAN.

    ``"parts"`` (the default): nearest-upsampling + 3x3 convolutions, conditional
    batch-norm driven by separate category, pattern, colour and noise maps, and an
    output composited on ``background``; a spectral-norm discriminator with one
    projection term per condition part and minibatch standard deviation.
    ``"dcgan"`` is the first architecture, kept so its weights still load.
    """

    # -- architecture ------------------------------------------------------------------
    architecture: Architecture = "parts"
    # Output side in pixels; 32 for the built-in catalog, 64 for users' own catalogs.
    resolution: Literal[32, 64] = 32
    # Length of the noise vector z. It drives the 4x4 base and every modulated layer.
    z_dim: Positive = 128
    # Channels of the 4x4 base; every upsampling halves them. 128 -> 64 -> 32 -> 16
    # is 30 MFLOP per 32x32 image, inside the CPU serving budget (192 cost 66 MFLOP
    # and served ~1,000 images/s at batch 64 on a 2-core CPU against 1,500 asked).
    g_channels: Positive = 128
    # ("dcgan" only) size of the shared embedding the whole condition is mapped to.
    condition_embedding: Positive = 128
    # Discriminator width at the first halving; doubles at each further halving.
    # 32 -> 64 -> 128: 48 cost 1.4x the step time on this CPU.
    d_channels: Positive = 32
    # ("parts" only) minibatch standard deviation in the discriminator: the remedy
    # against mode collapse that the ablation kept (README, generator "Ablation").
    minibatch_std: bool = True
    # ("parts" only) z modulates every block's batch-norm as well as the 4x4 base, so
    # the noise keeps its effect through the network (README, generator "Ablation").
    noise_modulation: bool = True
    # Studio backdrop the generator composites onto, RGB in [0, 1]; it must match the
    # training images' backdrop. ("dcgan" drew on black.)
    background: tuple[Unit, Unit, Unit] = DEFAULT_BACKGROUND
    # ("parts" only) learned full-resolution planes per pattern, added to the body
    # colour (``TexturePlanes``): a print painted directly instead of grown from the
    # 4x4 base. 0 = none (the default everywhere; README, "Texture planes").
    texture_planes: int = Field(default=0, ge=0, le=64)
    # ("parts" only) how G's 3x3 convolutions pad. "zeros" reads black beyond the
    # edge, so border pixels differ from interior ones (64 px catalog runs with
    # texture planes drew frames there for ~2,000 steps); "reflect" keeps a uniform
    # backdrop uniform to the edge, but also hides where the edge is: on the same
    # catalog its run drew edge-to-edge blobs, FID 1.05 at 1,200 steps against 0.75
    # (README, "Texture planes"). So "zeros" stays the default.
    g_padding: Literal["zeros", "reflect"] = "zeros"
    # -- training ----------------------------------------------------------------------
    batch_size: Positive = 64
    # Adam, SNGAN's setting C (lr 2e-4, betas 0.5/0.999, one D step per G step):
    # stable with spectral norm and the cheapest per step on a CPU.
    lr_g: float = Field(default=2e-4, gt=0)
    lr_d: float = Field(default=2e-4, gt=0)
    beta1: Unit = 0.5
    beta2: Unit = 0.999
    d_steps: Positive = 1
    # EMA of the generator's weights; the EMA copy makes every sample.
    ema_decay: Unit = 0.999
    # Steps before the EMA starts tracking (early weights are noise).
    ema_start: int = Field(default=500, ge=0)
    # Weight of the colour-fidelity terms of G's loss (0 = adversarial loss only): on
    # solid conditions the body must be the asked colour (a solid render's tint *is*
    # it), and every product's most opaque pixels must be as opaque as real shapes'
    # (Fashion-MNIST shapes reach full intensity). The adversarial loss alone left
    # bodies ~10 Delta-E lighter than asked (README, generator "Ablation").
    colour_loss_weight: float = Field(default=10.0, ge=0)
    # Share of a *patterned* product's pixels the colour terms hold to the asked colour
    # (its ground; the print takes the rest freely). 0 = patterned bodies unsupervised,
    # as before: with the pattern classifier on, their ground drifted and the median
    # Delta-E over all patterns rose from 5.9 to 6.1 while solid colours held; 5,000
    # steps with 0.5 took it to 4.6 with FID and pattern accuracy still improving.
    ground_colour_share: Unit = 0.5
    # ("parts" only) weight of an auxiliary category classifier on D's features
    # (AC-GAN, Odena et al. 2017): D learns to name the real shape's category, and G
    # is asked for images D names as the requested one. The projection alone left D
    # near chance on the ten shapes and samples at ~71% category accuracy (README,
    # "Full runs compared"). 0 = projection only (the first "parts" runs).
    category_loss_weight: float = Field(default=0.5, ge=0)
    # What that classifier reads: D's globally summed features ("sum", the scale the
    # projection reads) or their mean over the 4x4 map ("mean", the first AC runs).
    # At the mean's 16x smaller scale its logits moved so slowly that its
    # cross-entropy barely fell in 60 steps, so G got little category signal.
    classifier_pooling: Literal["mean", "sum"] = "sum"
    # ("parts" only) weight of a second auxiliary classifier on the same features that
    # names the pattern. The projection term alone left fine stripes and checks
    # ambiguous: the 44k-step run's striped samples were read as solid 12% of the
    # time (pattern accuracy 0.93x real); 1,500 more steps with this term took it to
    # 0.97x and FID / class-mean from 0.097 to 0.079, both read by the judge of the
    # day (README, "Ablation from the 52,000-step state"). 0 = no
    # pattern classifier. A run resumed with a weight > 0 from a checkpoint without
    # one starts the classifier fresh.
    pattern_loss_weight: float = Field(default=0.5, ge=0)
    # DiffAugment on real and fake images for D: translation only. Never colour (it
    # is part of the condition) and no cutout (data is unlimited; cutout paints grey).
    augment: bool = True
    # Blur what D sees, real and fake alike, by a Gaussian of this sigma (px) at
    # step 0, fading linearly to none at ``d_blur_steps``: D first judges outline
    # and colour, then print detail (StyleGAN3's blur_init_sigma). 0 = never.
    d_blur_sigma: float = Field(default=0.0, ge=0, le=16)
    d_blur_steps: int = Field(default=0, ge=0)
    # Fraction of training colours drawn from the palette (plus jitter); the rest
    # are uniform RGB, so any #rrggbb a merchandiser asks for has been seen.
    palette_fraction: Unit = 0.5
    colour_jitter: float = Field(default=0.08, ge=0)
    steps: Positive = 20_000
    checkpoint_every: Positive = 500
    eval_every: Positive = 1_000
    # Images per evaluation during training (the final evaluate uses more).
    eval_images: Positive = 2_000
    seed: int = Field(default=0, ge=0)
    device: Device = "auto"
    # bf16 autocast and channels_last on CUDA (ignored on CPU).
    mixed_precision: bool = True
    # Torch threads on CPU; 0 = torch's default (all cores).
    num_threads: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check_rules(self) -> GeneratorConfig:
        if self.g_channels % (self.resolution // 4) != 0:
            raise ValueError(f"g_channels ({self.g_channels}) must be divisible by "
                             f"{self.resolution // 4} (it halves at every upsampling)")
        return self

    @property
    def n_upsamplings(self) -> int:
        """4x4 -> resolution, doubling each time: 3 for 32 px, 4 for 64 px."""
        return int(math.log2(self.resolution // 4))

    @classmethod
    def _migrate(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Files written before architectures had names hold the first generator, on black."""
        if "architecture" not in values and "condition_embedding" in values:
            values = {"architecture": "dcgan", "background": (0.0, 0.0, 0.0),
                      "minibatch_std": False, **values}
        # ... and those written before the category classifier trained without one.
        if "condition_embedding" in values and "category_loss_weight" not in values:
            values = {"category_loss_weight": 0.0, **values}
        # ... and those written before the ground share left patterned bodies free.
        if "condition_embedding" in values and "ground_colour_share" not in values:
            values = {"ground_colour_share": 0.0, **values}
        # ... and those written before the pattern classifier trained without one.
        if "condition_embedding" in values and "pattern_loss_weight" not in values:
            values = {"pattern_loss_weight": 0.0, **values}
        # ... and those written before the classifier's pooling was a choice read the mean.
        if "condition_embedding" in values and "classifier_pooling" not in values:
            values = {"classifier_pooling": "mean", **values}
        return values

    @classmethod
    def tiny(cls, **changes: Any) -> GeneratorConfig:
        """A seconds-to-train config for tests and smoke runs."""
        base = cls(z_dim=16, g_channels=32, condition_embedding=16, d_channels=8, batch_size=8,
                   steps=4, checkpoint_every=2, eval_every=2, eval_images=32, ema_start=0)
        return base.replace(**changes)
