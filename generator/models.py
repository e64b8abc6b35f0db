"""The conditional GAN's layers: a generator and a projection discriminator.

Only ``nn.Module``s live here; losses, optimisers, sampling and the training loop
are elsewhere (style guide: network, sampling and orchestration apart).

The condition's parts stay apart in both networks. Category and pattern are
distributions (one-hot in training, mixtures when serving), so their "embeddings"
are bias-free linear maps: a lookup table for a one-hot, the matching mixture of
rows for a distribution. Colour is three numbers with a path of its own, and in
the generator it also reaches the output directly: the picture is composited as
``background * (1 - alpha) + alpha * (colour + delta)``, so the body colour is
the asked-for colour from the first step, and the network learns the shape
(``alpha``) and the pattern and shading (``delta``).

Shapes: B batch, D condition size (categories + 3 + patterns), Z noise size,
R resolution (32 or 64). Images are (B, 3, R, R) in [-1, 1].
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from pigen.data.conditions import ConditionLayout
from pigen.generator.config import GeneratorConfig


class Generator(nn.Module):
    """What every generator architecture is: ``forward(z (B, Z), c (B, D)) -> (B, 3, R, R)``."""

    def __init__(self, config: GeneratorConfig, condition_size: int) -> None:
        super().__init__()
        self.config = config
        self.condition_size = condition_size


class ConditionParts(nn.Module):
    """Split a (B, D) condition into (category (B, C), colour (B, 3), pattern (B, P))."""

    def __init__(self, layout: ConditionLayout) -> None:
        super().__init__()
        self.n_categories, self.n_patterns = layout.n_categories, layout.n_patterns

    def forward(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return torch.split(c, [self.n_categories, 3, self.n_patterns], dim=1)  # type: ignore[return-value]


class PartsModulation(nn.Module):
    """Per-channel (gain, bias) from category, pattern, colour and noise, each its own map.

    All maps start at zero, so the layer starts as a plain batch-norm and each
    part earns its influence. The noise map (``z_dim > 0``) keeps z acting on every
    layer (hierarchical noise, as in BigGAN), not just the first, so later layers
    cannot learn to ignore it.
    """

    def __init__(self, channels: int, n_categories: int, n_patterns: int, z_dim: int) -> None:
        super().__init__()
        self.category = nn.Linear(n_categories, 2 * channels, bias=False)
        self.pattern = nn.Linear(n_patterns, 2 * channels, bias=False)
        self.colour = nn.Linear(3, 2 * channels)
        self.noise = nn.Linear(z_dim, 2 * channels, bias=False) if z_dim else None
        for layer in (self.category, self.pattern, self.colour, self.noise):
            if layer is not None:
                nn.init.zeros_(layer.weight)
        nn.init.zeros_(self.colour.bias)

    def forward(self, category: torch.Tensor, colour: torch.Tensor, pattern: torch.Tensor,
                z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        style = self.category(category) + self.pattern(pattern) + self.colour(colour)  # (B, 2C)
        if self.noise is not None:
            style = style + self.noise(z)
        gain, bias = style.chunk(2, dim=1)
        return 1.0 + gain[:, :, None, None], bias[:, :, None, None]


class UpBlock(nn.Module):
    """CBN -> ReLU -> nearest x2 -> conv3x3: doubles the side without checkerboards.

    A stride-2 transposed convolution lets kernel overlaps differ from pixel to
    pixel (the checkerboard of Odena et al. 2016); nearest upsampling followed by
    a 3x3 convolution treats every output pixel alike.
    """

    def __init__(self, c_in: int, c_out: int, layout: ConditionLayout, z_dim: int,
                 padding: Literal["zeros", "reflect"] = "zeros") -> None:
        """``z_dim`` 0: no noise map (the ablation's "noise at the input only")."""
        super().__init__()
        self.norm = nn.BatchNorm2d(c_in, affine=False)
        self.modulation = PartsModulation(c_in, layout.n_categories, layout.n_patterns, z_dim)
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False, padding_mode=padding)

    def forward(self, x: torch.Tensor, parts: tuple[torch.Tensor, ...],
                z: torch.Tensor) -> torch.Tensor:
        gain, bias = self.modulation(*parts, z)
        x = torch.relu(self.norm(x) * gain + bias)
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TexturePlanes(nn.Module):
    """Per pattern, ``channels`` learned full-resolution planes: a stationary print drawn once.

    A fine weave (a 6 px herringbone at 64 px) is hard to grow from a 4x4 base
    through four upsamplings in a few thousand CPU steps, while a print is the same
    field wherever it shows. So each pattern owns a bank of planes that gradient
    descent paints directly; the pattern distribution mixes the banks (a mixture for
    a mixed condition), each sample wraps them by its own shift (drawn from z, so
    the phase differs item to item and the bank must tile), and the colour sets
    each plane's gain: a print is dark ink on a light body and pale on a dark one.
    A 1x1 convolution turns them into a change of the body colour only: the
    opacity never reads them, so a print cannot draw outside the product (when
    it could, the planes drew bars along the image's edges).
    """

    def __init__(self, n_patterns: int, channels: int, resolution: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.planes = nn.Parameter(
            0.5 * torch.randn(n_patterns, channels, resolution, resolution, generator=generator))
        self.gain = nn.Linear(3, channels)
        nn.init.zeros_(self.gain.weight)
        nn.init.ones_(self.gain.bias)
        self.to_rgb = nn.Conv2d(channels, 3, 1, bias=False)  # zero: delta starts at 0
        nn.init.zeros_(self.to_rgb.weight)

    def forward(self, pattern: torch.Tensor, colour: torch.Tensor,
                z: torch.Tensor) -> torch.Tensor:
        """(B, 3, R, R) change of the body colour from pattern (B, P), colour (B, 3), z (B, Z)."""
        return self.to_rgb(self.wrapped(pattern, colour, z))

    def wrapped(self, pattern: torch.Tensor, colour: torch.Tensor,
                z: torch.Tensor) -> torch.Tensor:
        """(B, channels, R, R): the pattern's planes, wrapped by z and scaled by colour."""
        mixed = torch.einsum("bp,pkhw->bkhw", pattern, self.planes)  # (B, K, R, R)
        b, k, side, _ = mixed.shape
        # z's first two entries pick the wrap (a whole pixel each way): deterministic per seed.
        offsets = (torch.floor(z[:, :2] * 997.0).remainder(side)).long()  # (B, 2)
        steps = torch.arange(side, device=z.device)
        rows = (steps[None, :] + offsets[:, :1]).remainder(side)  # (B, R)
        cols = (steps[None, :] + offsets[:, 1:]).remainder(side)  # (B, R)
        mixed = mixed.gather(2, rows[:, None, :, None].expand(b, k, side, side))
        mixed = mixed.gather(3, cols[:, None, None, :].expand(b, k, side, side))
        return mixed * self.gain(colour)[:, :, None, None]


class PartsGenerator(Generator):
    """Architecture ``"parts"``: (z, condition) -> image composited on the background.

    z -> linear -> (g_channels, 4, 4) -> [CBN, ReLU, up x2, conv3x3] per doubling
    (channels halve each time) -> BN, ReLU -> conv3x3 -> alpha (1) + delta (3).
    With ``texture_planes`` > 0, :class:`TexturePlanes` add to delta (not alpha).
    """

    background: torch.Tensor  # (1, 3, 1, 1) buffer: the backdrop, RGB in [0, 1]

    def __init__(self, config: GeneratorConfig, layout: ConditionLayout) -> None:
        super().__init__(config, layout.size)
        self.parts = ConditionParts(layout)
        widths = [config.g_channels >> i for i in range(config.n_upsamplings + 1)]
        self.base = nn.Linear(config.z_dim, widths[0] * 16)
        pairs = zip(widths[:-1], widths[1:], strict=True)
        noise = config.z_dim if config.noise_modulation else 0
        padding = config.g_padding
        self.blocks = nn.ModuleList(UpBlock(a, b, layout, noise, padding) for a, b in pairs)
        self.out_norm = nn.BatchNorm2d(widths[-1])
        self.out_conv = nn.Conv2d(widths[-1], 4, 3, padding=1, padding_mode=padding)
        planes = config.texture_planes
        self.textures = (TexturePlanes(layout.n_patterns, planes, config.resolution)
                         if planes else None)
        # Start with delta = 0 (the body is exactly the asked colour) and alpha = 0.5.
        for parameter in self.out_conv.parameters():
            nn.init.zeros_(parameter)
        self.register_buffer("background", torch.tensor(config.background).view(1, 3, 1, 1),
                             persistent=False)

    def forward(self, z: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.composite(*self.layers(z, condition))

    def layers(self, z: torch.Tensor, condition: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(opacity (B, 1, R, R), body colour (B, 3, R, R)), both in [0, 1]."""
        category, colour, pattern = self.parts(condition)
        parts = (category, colour, pattern)
        x = self.base(z).view(z.shape[0], self.config.g_channels, 4, 4)  # (B, C, 4, 4)
        for block in self.blocks:
            x = block(x, parts, z)  # side x2, channels /2
        out = self.out_conv(torch.relu(self.out_norm(x)))  # (B, 4, R, R)
        alpha = torch.sigmoid(out[:, :1])  # (B, 1, R, R) opacity
        delta = out[:, 1:]  # (B, 3, R, R)
        if self.textures is not None:
            delta = delta + self.textures(pattern, colour, z)
        body = (colour[:, :, None, None] + delta).clamp(0.0, 1.0)  # (B, 3, R, R)
        return alpha, body

    def composite(self, alpha: torch.Tensor, body: torch.Tensor) -> torch.Tensor:
        """The product over the backdrop, as an image in [-1, 1]."""
        image = self.background * (1.0 - alpha) + alpha * body  # (B, 3, R, R) in [0, 1]
        return image * 2.0 - 1.0


class MinibatchStd(nn.Module):
    """Append the batch's mean feature standard deviation as one more channel.

    Lets the discriminator see a batch of near-identical images as fake (Karras
    et al. 2018), which is what pushes the generator off a collapsed mode. Groups
    of ``group`` images keep it cheap and comparable across batch sizes.
    """

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = min(self.group, b)
        if b % g:
            g = 1
        y = x.reshape(g, b // g, c, h, w)
        # (y - mean)^2 by hand: torch.var over dim 0 of a channels_last tensor was 4%
        # of a training step on this CPU.
        centred = y - y.mean(dim=0, keepdim=True)
        std = (centred.square().mean(dim=0) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (b // g,)
        std = std.repeat(g).view(b, 1, 1, 1).expand(b, 1, h, w)
        return torch.cat([x, std], dim=1)


class Scores(NamedTuple):
    """What the parts discriminator says of a batch."""

    logit: torch.Tensor  # (B,) realness
    categories: torch.Tensor | None  # (B, n_categories) AC logits, or None
    patterns: torch.Tensor | None  # (B, n_patterns) AC logits, or None


class PartsDiscriminator(nn.Module):
    """Spectral-norm CNN with one projection term per condition part: ``(x, c) -> (B,)``.

    ``logit = w . h + <E_cat c_cat, h> + <E_pat c_pat, h> + <L(rgb), h>``: each part
    asks its own question ("is this a real *coat*", "... *striped*", "... *this
    colour*") of the same features, so the category test never passes through a
    map shared with RGB (Miyato & Koyama 2018, per part).
    """

    def __init__(self, config: GeneratorConfig, layout: ConditionLayout) -> None:
        super().__init__()
        self.parts = ConditionParts(layout)
        width = config.d_channels
        layers: list[nn.Module] = []
        channels = 3
        for i in range(config.n_upsamplings):  # R -> 4: conv4x4/2 then conv3x3 per halving
            out = width * 2**i
            layers += [spectral_norm(nn.Conv2d(channels, out, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.1),
                       spectral_norm(nn.Conv2d(out, out, 3, padding=1)), nn.LeakyReLU(0.1)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.minibatch_std = MinibatchStd() if config.minibatch_std else None
        extra = 1 if config.minibatch_std else 0
        self.head = nn.Sequential(
            spectral_norm(nn.Conv2d(channels + extra, channels, 3, padding=1)), nn.LeakyReLU(0.1))
        self.linear = spectral_norm(nn.Linear(channels, 1))
        self.category = spectral_norm(nn.Linear(layout.n_categories, channels, bias=False))
        self.pattern = spectral_norm(nn.Linear(layout.n_patterns, channels, bias=False))
        self.colour = spectral_norm(nn.Linear(3, channels))
        # Auxiliary category classifier (AC-GAN) on the same features, when trained with it.
        self.classifier = (nn.Linear(channels, layout.n_categories)
                           if config.category_loss_weight > 0 else None)
        # ... and an auxiliary pattern classifier; registered last, so a run resumed from
        # a checkpoint without it keeps every other parameter's optimiser slot.
        self.pattern_classifier = (nn.Linear(channels, layout.n_patterns)
                                   if config.pattern_loss_weight > 0 else None)
        self.classifier_sums = config.classifier_pooling == "sum"

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.score(x, condition).logit

    def score(self, x: torch.Tensor, condition: torch.Tensor) -> Scores:
        """Realness logit (B,) and the auxiliary classifiers' logits, where there are any."""
        h = self.features(x)  # (B, C, 4, 4)
        if self.minibatch_std is not None:
            h = self.minibatch_std(h)
        h = self.head(h)
        h_area = h.shape[2] * h.shape[3]
        h = h.sum(dim=(2, 3))  # (B, C) global sum pooling
        category, colour, pattern = self.parts(condition)
        projection = self.category(category) + self.pattern(pattern) + self.colour(colour)
        logit = self.linear(h).squeeze(1) + (projection * h).sum(dim=1)  # (B,)
        pooled = h if self.classifier_sums else h / h_area
        return Scores(logit,
                      None if self.classifier is None else self.classifier(pooled),
                      None if self.pattern_classifier is None else self.pattern_classifier(pooled))


def build_generator(config: GeneratorConfig, layout: ConditionLayout) -> Generator:
    """The generator ``config.architecture`` names, for ``layout``."""
    if config.architecture == "dcgan":
        from pigen.generator.models_v1 import DCGANGenerator

        return DCGANGenerator(config, layout.size)
    return PartsGenerator(config, layout)


def build_discriminator(config: GeneratorConfig, layout: ConditionLayout) -> nn.Module:
    if config.architecture == "dcgan":
        from pigen.generator.models_v1 import DCGANDiscriminator

        return DCGANDiscriminator(config, layout.size)
    return PartsDiscriminator(config, layout)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def generator_flops_per_image(model: Generator) -> int:
    """Floating-point operations (2 per multiply-add) for one image, from layer shapes.

    Counts the linear layers and convolutions (what the time goes into); norms
    and activations are a few per element and left out. Traced with hooks, so it
    holds for every architecture.
    """
    flops = 0

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal flops
        if isinstance(module, nn.Linear):
            flops += 2 * module.in_features * module.out_features
        elif isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            side = inputs[0].shape[-1] if isinstance(module, nn.ConvTranspose2d) \
                else output.shape[-1]
            flops += 2 * side * side * k * module.in_channels * module.out_channels \
                // module.groups

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, model.config.z_dim), torch.zeros(1, model.condition_size))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return flops
