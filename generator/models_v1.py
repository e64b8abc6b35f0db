"""The first generator (architecture ``"dcgan"``), kept so its shipped weights load.

It mapped the whole condition through one shared MLP, upsampled with transposed
convolutions (checkerboards) and drew on a black background. pigen's current
architecture is in :mod:`pigen.generator.models`; this one stays loadable so
"old vs new generator" can be A/B-tested and rolled back to.

Shapes: B batch, D condition size (categories + 3 + patterns), Z noise size,
R resolution (32 or 64). Images are (B, 3, R, R) in [-1, 1], black background = -1.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from pigen.generator.config import GeneratorConfig
from pigen.generator.models import Generator


class ConditionalBatchNorm2d(nn.Module):
    """Batch-norm whose scale and shift are functions of a style vector.

    The style is the condition embedding concatenated with z, so the whole
    condition (category mix, RGB colour, pattern mix) modulates every layer, and
    so does the noise (variation within one condition).
    """

    def __init__(self, channels: int, style_size: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(style_size, channels)
        self.bias = nn.Linear(style_size, channels)
        # Start as a plain batch-norm: gain 1 (1 + 0), shift 0.
        for layer in (self.gain, self.bias):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gain = 1.0 + self.gain(style)[:, :, None, None]  # (B, C, 1, 1)
        bias = self.bias(style)[:, :, None, None]
        return self.norm(x) * gain + bias


class UpBlock(nn.Module):
    """CBN -> ReLU -> 4x4 transposed conv, stride 2: doubles the side, halves channels.

    A transposed 4x4/2 conv costs 4 multiply-adds per output pixel and channel
    pair, against 9 for upsample + 3x3 conv: 2.25x cheaper for the same shape.
    """

    def __init__(self, in_channels: int, out_channels: int, style_size: int) -> None:
        super().__init__()
        self.norm = ConditionalBatchNorm2d(in_channels, style_size)
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1,
                                       bias=False)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.relu(self.norm(x, style)))


class DCGANGenerator(Generator):
    """(z, condition) -> image. ``forward(z (B, Z), c (B, D)) -> (B, 3, R, R)`` in [-1, 1]."""

    def __init__(self, config: GeneratorConfig, condition_size: int) -> None:
        super().__init__(config, condition_size)
        embedding = config.condition_embedding
        style_size = embedding + config.z_dim
        base = config.g_channels
        # The condition is mixed (distributions, RGB): an MLP, not a lookup table.
        self.embed = nn.Sequential(
            nn.Linear(condition_size, embedding), nn.ReLU(), nn.Linear(embedding, embedding)
        )
        self.base = nn.Linear(config.z_dim + embedding, base * 4 * 4)
        channels = [base >> i for i in range(config.n_upsamplings + 1)]  # 192, 96, 48, 24
        pairs = zip(channels[:-1], channels[1:], strict=True)
        self.blocks = nn.ModuleList(UpBlock(c_in, c_out, style_size) for c_in, c_out in pairs)
        self.out_norm = ConditionalBatchNorm2d(channels[-1], style_size)
        self.out_conv = nn.Conv2d(channels[-1], 3, 3, padding=1)

    def forward(self, z: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        style = torch.cat([self.embed(condition), z], dim=1)  # (B, E + Z)
        x = self.base(style).view(z.shape[0], self.config.g_channels, 4, 4)  # (B, C, 4, 4)
        for block in self.blocks:
            x = block(x, style)  # side x2, channels /2
        x = self.out_conv(torch.relu(self.out_norm(x, style)))  # (B, 3, R, R)
        return torch.tanh(x)


class DCGANDiscriminator(nn.Module):
    """Spectral-norm CNN with a projection head: ``forward(x, c) -> (B,)`` realness logits.

    ``logit = w . h(x) + <embed(c), h(x)>`` (Miyato & Koyama 2018): the inner
    product asks "is this a real image *of this condition*". The condition is
    continuous (distributions, RGB), so its embedding is a small MLP rather than
    a class table.
    """

    def __init__(self, config: GeneratorConfig, condition_size: int) -> None:
        super().__init__()
        width = config.d_channels
        layers: list[nn.Module] = [
            spectral_norm(nn.Conv2d(3, width // 2, 3, padding=1)), nn.LeakyReLU(0.2)
        ]
        channels = width // 2
        for i in range(config.n_upsamplings):  # R -> 4, doubling width
            out = width * 2**i
            layers += [spectral_norm(nn.Conv2d(channels, out, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.2)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.linear = spectral_norm(nn.Linear(channels, 1))
        self.embed = nn.Sequential(
            spectral_norm(nn.Linear(condition_size, channels)), nn.ReLU(),
            spectral_norm(nn.Linear(channels, channels)),
        )

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        h = self.features(x).sum(dim=(2, 3))  # (B, C) global sum pooling
        projection = (self.embed(condition) * h).sum(dim=1)  # (B,)
        return self.linear(h).squeeze(1) + projection
