"""A small texture encoder learned from a catalog's own images, without labels.

SimCLR-style: two random views of each product, an NT-Xent loss that pulls the
two together and pushes every other product away. What the views share decides
what the features encode, so the views are built to share *texture* only:

* crops are taken inside the product (the mask says where), so the backdrop and
  the silhouette (hence the category) are not in view; what little backdrop a crop
  still holds is filled with the product's mean colour;
* flips and 90-degree rotations (or any angle: ``rotation="any"``), so a stripe's
  direction is not a feature;
* strong colour jitter: a random channel permutation and hue rotation, brightness,
  contrast and saturation changes, random inversion and random greyscale, so the
  colour and which tone is the lighter one are not features either;
* each crop is standardised per channel before the network sees it (its mean
  colour and contrast are divided out), for the same reason.

The network is a few 3x3 convolutions and a global average pool: a bag of local
features, which is what texture is. ``features`` returns that pooled vector
(SimCLR's "representation", not the projection head's output), averaged over a
few fixed interior crops and L2-normalised.

Weights are saved with safetensors only; the config travels as JSON in the
file's metadata.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

import numpy as np
from pydantic import Field, model_validator

from pigen.data.typed_config import TypedConfig

if TYPE_CHECKING:
    import torch
    from torch import nn

# Spinning OpenMP threads make a busy 2-core machine several times slower: the same
# default the CLI sets, for callers that import this before torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

FORMAT = "pigen-texture-encoder/1"
MIN_COVERAGE = 0.85  # share of a crop that must be product; below, the best crop is taken


class TextureEncoderConfig(TypedConfig):
    """How the texture encoder is built and trained; saved with its weights."""

    # Side of the square crop the network sees. 32 px holds several repeats of a
    # print at catalog resolution (64 px) and keeps a training step cheap on CPU.
    input_size: int = Field(default=32, ge=16, le=128)
    # Channels of the conv stages (two 3x3 convs each); each stage after the first
    # halves the resolution. ~10 M multiply-adds per crop: cheap enough for a CPU.
    channels: tuple[int, ...] = (16, 32, 64)
    # Projection head output (the NT-Xent space); features come from before it.
    projection_dim: int = Field(default=64, ge=8)
    # Crop side as a share of the image side (min, max): big enough for a repeat,
    # small enough to fit inside most products.
    crop_scale: tuple[float, float] = (0.3, 0.5)
    steps: int = Field(default=800, ge=1)
    # Products per step (two views each): the other 2B - 2 views are the negatives.
    # A catalog has few textures, so most negatives share the anchor's texture
    # anyway; more of them buy little and cost CPU.
    batch_size: int = Field(default=64, ge=4)
    learning_rate: float = Field(default=2e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    # NT-Xent temperature; SimCLR's small-batch range.
    temperature: float = Field(default=0.2, gt=0, le=1)
    # Colour augmentation strength: brightness/contrast/saturation factors in
    # [1 - s, 1 + s], hue rotated by up to 180 degrees times s.
    colour_jitter: float = Field(default=0.6, ge=0, le=1)
    grayscale_p: float = Field(default=0.3, ge=0, le=1)
    # Inverting swaps which tone is the light one: a dark print on white and a
    # light print on navy are the same texture.
    invert_p: float = Field(default=0.3, ge=0, le=1)
    # View rotations: quarter turns only (exact resampling), or any angle, so a
    # diagonal stripe looks like a straight one. "any" measured worse on 1,000
    # Fashion-MNIST renders at 400 steps (ARI 0.51 at K = 4 vs 0.57; silhouette
    # chose K = 3): resampling blurs 1 px lines.
    rotation: Literal["quarter", "any"] = "quarter"
    # Interior crops averaged per image by ``features`` (fixed, seeded).
    feature_views: int = Field(default=8, ge=1)
    seed: int = Field(default=0, ge=0)
    # Torch threads on CPU; 0 = torch's default (all cores).
    num_threads: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check_rules(self) -> TextureEncoderConfig:
        if not self.channels or any(c < 1 for c in self.channels):
            raise ValueError(f"channels must be positive and not empty, got {self.channels}")
        low, high = self.crop_scale
        if not 0 < low <= high <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < min <= max <= 1, got {self.crop_scale}")
        if self.input_size % 2 ** (len(self.channels) - 1) != 0:
            raise ValueError(f"input_size ({self.input_size}) must be divisible by "
                             f"{2 ** (len(self.channels) - 1)} (one halving per stage)")
        return self


@dataclass(frozen=True)
class TrainingSummary:
    """What a training run did: for logs and reports."""

    steps: int
    seconds: float
    final_loss: float  # mean NT-Xent over the last 50 steps


class TextureEncoder:
    """A trained encoder: ``features(images, masks)`` -> (N, F) unit vectors."""

    def __init__(self, config: TextureEncoderConfig, network: nn.Module,
                 summary: TrainingSummary | None = None) -> None:
        self.config = config
        self.network = network.eval()
        self.summary = summary

    @property
    def feature_dim(self) -> int:
        return self.config.channels[-1]

    def features(self, images: np.ndarray, masks: np.ndarray, batch_size: int = 256
                 ) -> np.ndarray:
        """(N, F) float32 L2-normalised texture features of (N, R, R, 3) images.

        Each row is the mean representation of ``feature_views`` interior crops at
        the middle crop scale, drawn with a fixed seed: the same images give the same
        features. No colour augmentation; the per-crop standardisation stays.
        """
        import torch

        pixels, product = _check_inputs(images, masks)
        filled = _fill_background(pixels, product)
        rng = np.random.default_rng(self.config.seed + 1)
        scale = float(np.mean(self.config.crop_scale))
        views = self.config.feature_views
        out = np.empty((len(pixels), self.feature_dim), dtype=np.float32)
        sampler = CropSampler(product)
        with torch.inference_mode():
            for start in range(0, len(pixels), batch_size):
                index = np.arange(start, min(start + batch_size, len(pixels)))
                repeated = np.repeat(index, views)  # (B * V,)
                boxes = sampler.sample(repeated, scale, scale, rng)
                crops = _crop(torch.from_numpy(filled[repeated]), boxes,
                              self.config.input_size, np.zeros(len(repeated), dtype=np.int64),
                              np.zeros(len(repeated), dtype=bool))
                represent = self.network.represent(_standardise(crops))  # type: ignore[operator]
                pooled = represent.reshape(len(index), views, -1).mean(dim=1)  # (B, F)
                out[index] = torch.nn.functional.normalize(pooled, dim=1).numpy()
        return out

    def save(self, path: Path) -> Path:
        """Write weights and config to one ``.safetensors`` file (atomically)."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous()
                   for k, v in self.network.state_dict().items()}
        metadata = {"format": FORMAT,
                    "config": json.dumps(self.config.to_dict(), sort_keys=True)}
        if self.summary is not None:
            metadata["summary"] = json.dumps(self.summary.__dict__, sort_keys=True)
        tmp = path.with_name(path.name + ".tmp")
        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read an encoder written by :meth:`save`; ``ValueError`` on any other file."""
        from safetensors import SafetensorError, safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"texture encoder {path} not found")
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as error:
            raise ValueError(f"{path} is not a safetensors file ({error})") from None
        if metadata.get("format") != FORMAT:
            raise ValueError(f"{path} is not a pigen texture encoder (format "
                             f"{metadata.get('format')!r}, expected {FORMAT!r})")
        try:
            config = TextureEncoderConfig.from_dict(json.loads(metadata["config"]))
            summary_values = json.loads(metadata["summary"]) if "summary" in metadata else None
        except (KeyError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: bad texture encoder metadata ({error})") from None
        network = build_network(config)
        expected = network.state_dict()
        if set(state) != set(expected) or any(
                state[k].shape != expected[k].shape for k in expected):
            raise ValueError(f"{path}: weights do not fit the architecture its config "
                             f"describes (channels {config.channels})")
        network.load_state_dict(state)
        summary = TrainingSummary(**summary_values) if summary_values else None
        return cls(config, network, summary)


def build_network(config: TextureEncoderConfig) -> nn.Module:
    """The conv backbone + projection head the config describes (fresh weights)."""
    from torch import nn

    class TextureNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            previous = 3
            for stage, width in enumerate(config.channels):
                stride = 1 if stage == 0 else 2
                layers += [nn.Conv2d(previous, width, 3, stride, 1, bias=False),
                           nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                           nn.Conv2d(width, width, 3, 1, 1, bias=False),
                           nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                previous = width
            self.backbone = nn.Sequential(*layers)
            self.head = nn.Sequential(nn.Linear(previous, previous), nn.ReLU(inplace=True),
                                      nn.Linear(previous, config.projection_dim))

        def represent(self, x: torch.Tensor) -> torch.Tensor:
            """(B, 3, S, S) standardised crops -> (B, F) pooled features."""
            return self.backbone(x).mean(dim=(2, 3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """(B, 3, S, S) -> (B, projection_dim): the NT-Xent space."""
            return self.head(self.represent(x))

    return TextureNet()


def train_texture_encoder(images: np.ndarray, masks: np.ndarray,
                          config: TextureEncoderConfig | None = None, *,
                          progress: bool = True) -> TextureEncoder:
    """Train an encoder on (N, R, R, 3) images in [0, 1] and their (N, R, R) product masks.

    Deterministic for a given config (seed) and thread count. Returns the encoder
    in eval mode, with a :class:`TrainingSummary`.
    """
    import torch
    from tqdm.auto import tqdm

    config = config or TextureEncoderConfig()
    pixels, product = _check_inputs(images, masks)
    if len(pixels) < 2:
        raise ValueError("training needs at least 2 images (each view needs negatives)")
    previous_threads = torch.get_num_threads()
    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    try:
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        network = build_network(config).train()
        optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate,
                                      weight_decay=config.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=config.learning_rate, total_steps=config.steps, pct_start=0.1)
        filled = torch.from_numpy(_fill_background(pixels, product))
        sampler = CropSampler(product)
        batch = min(config.batch_size, len(pixels))
        losses: list[float] = []
        started = time.perf_counter()
        bar = tqdm(total=config.steps, disable=not progress, unit="step",
                   desc="training texture encoder")
        for _ in range(config.steps):
            # 1. a batch of products, two augmented views each
            index = rng.choice(len(pixels), size=batch, replace=False)
            views = [augment(filled, index, sampler, config, rng) for _ in range(2)]
            # 2. NT-Xent on the projections; 3. one optimiser step
            projected = network(torch.cat(views))  # (2B, projection_dim)
            loss = nt_xent(projected, config.temperature)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
            bar.update(1)
            if len(losses) % 20 == 0:
                bar.set_postfix({"loss": f"{np.mean(losses[-50:]):.3f}"})
        bar.close()
        summary = TrainingSummary(config.steps, round(time.perf_counter() - started, 1),
                                  round(float(np.mean(losses[-50:])), 4))
        return TextureEncoder(config, network.eval(), summary)
    finally:
        torch.set_num_threads(previous_threads)


def nt_xent(projected: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss on (2B, D) projections, rows i and i + B being two views of one item."""
    import torch

    z = torch.nn.functional.normalize(projected, dim=1)
    similarity = z @ z.T / temperature  # (2B, 2B)
    similarity.fill_diagonal_(float("-inf"))  # a view is not its own positive
    half = len(z) // 2
    targets = torch.cat([torch.arange(half, 2 * half), torch.arange(half)])
    return torch.nn.functional.cross_entropy(similarity, targets)


class CropSampler:
    """Square crops that lie inside the product, from each mask's integral image."""

    def __init__(self, masks: np.ndarray) -> None:
        self.size = masks.shape[1]  # R
        padded = np.pad(masks.astype(np.float32), ((0, 0), (1, 0), (1, 0)))
        self.integral = padded.cumsum(1).cumsum(2)  # (N, R + 1, R + 1)

    def sample(self, index: np.ndarray, low: float, high: float, rng: np.random.Generator
               ) -> np.ndarray:
        """(B, 3) int boxes (top, left, side) for images ``index``, side in [low, high] * R.

        A box is drawn among those at least :data:`MIN_COVERAGE` product; an image
        with none (a thin sandal strap) gets its best-covered box.
        """
        sides = np.clip(np.rint(rng.uniform(low, high, len(index)) * self.size), 2, self.size)
        boxes = np.empty((len(index), 3), dtype=np.int64)
        for row, (item, side) in enumerate(zip(index, sides.astype(np.int64), strict=True)):
            table = self.integral[item]
            coverage = (table[side:, side:] - table[:-side, side:] - table[side:, :-side]
                        + table[:-side, :-side]) / float(side * side)  # (R - s + 1,)*2
            good = np.flatnonzero(coverage.ravel() >= MIN_COVERAGE)
            flat = int(rng.choice(good)) if len(good) else int(coverage.argmax())
            top, left = divmod(flat, coverage.shape[1])
            boxes[row] = (top, left, side)
        return boxes


def augment(filled: torch.Tensor, index: np.ndarray, sampler: CropSampler,
            config: TextureEncoderConfig, rng: np.random.Generator) -> torch.Tensor:
    """One augmented, standardised view of each image in ``index``: (B, 3, S, S)."""
    import torch

    count = len(index)
    boxes = sampler.sample(index, *config.crop_scale, rng)
    turns = (rng.integers(4, size=count).astype(np.float64) if config.rotation == "quarter"
             else rng.uniform(0, 4, count))
    crops = _crop(filled[torch.from_numpy(index)], boxes, config.input_size, turns,
                  rng.random(count) < 0.5)
    return _standardise(colour_jitter(crops, config, rng))


def colour_jitter(crops: torch.Tensor, config: TextureEncoderConfig,
                  rng: np.random.Generator) -> torch.Tensor:
    """Random channel permutation, hue rotation, brightness/contrast/saturation,
    inversion and greyscale, per crop; (B, 3, S, S) in [0, 1] in and out."""
    import torch

    count = len(crops)
    strength = config.colour_jitter
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)  # Rec. 601
    # channel permutation x hue rotation about the grey axis: one 3x3 matrix per crop
    permutations = np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
    chosen = permutations[rng.integers(6, size=count)]  # (B, 3)
    matrices = np.eye(3, dtype=np.float32)[chosen]  # (B, 3, 3): out channel <- in channel
    angles = rng.uniform(-np.pi, np.pi, count) * strength
    matrices = _hue_rotations(angles) @ matrices
    x = torch.einsum("bij,bjhw->bihw", torch.from_numpy(matrices.astype(np.float32)), crops)
    # brightness, contrast, saturation
    factors = torch.from_numpy(rng.uniform(1 - strength, 1 + strength, (3, count, 1, 1, 1))
                               .astype(np.float32))
    x = x * factors[0]
    grey = (x * luma).sum(dim=1, keepdim=True)  # (B, 1, S, S)
    x = grey.mean(dim=(2, 3), keepdim=True) + factors[1] * (x - grey.mean(dim=(2, 3), keepdim=True))
    grey = (x * luma).sum(dim=1, keepdim=True)
    x = (grey + factors[2] * (x - grey)).clamp(0, 1)
    invert = torch.from_numpy(rng.random(count) < config.invert_p).view(-1, 1, 1, 1)
    x = torch.where(invert, 1 - x, x)
    to_grey = torch.from_numpy(rng.random(count) < config.grayscale_p).view(-1, 1, 1, 1)
    grey = (x * luma).sum(dim=1, keepdim=True).expand_as(x)
    return torch.where(to_grey, grey, x)


def _hue_rotations(angles: np.ndarray) -> np.ndarray:
    """(B, 3, 3) rotations of RGB about the grey diagonal (a hue shift that keeps grey)."""
    axis = np.ones(3) / np.sqrt(3)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    outer = np.outer(axis, axis)
    cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    return (cos * np.eye(3) + sin * cross + (1 - cos) * outer).astype(np.float32)


def _crop(images: torch.Tensor, boxes: np.ndarray, size: int, rotations: np.ndarray,
          flips: np.ndarray) -> torch.Tensor:
    """Crop (B, R, R, 3) images to ``boxes`` (top, left, side), resize to ``size``,
    rotate by ``rotations`` quarter turns (fractions allowed) and flip where ``flips``:
    (B, 3, S, S)."""
    import torch

    resolution = images.shape[1]
    top, left, side = (boxes[:, i].astype(np.float32) for i in range(3))
    # affine grid in normalised coordinates ([-1, 1] spans the image, align_corners=False)
    scale = side / resolution
    centre_x = (left + side / 2) / resolution * 2 - 1
    centre_y = (top + side / 2) / resolution * 2 - 1
    angle = rotations.astype(np.float32) * (np.pi / 2)
    cos, sin = np.cos(angle), np.sin(angle)
    exact = rotations == np.rint(rotations)  # quarter turns: no rounding error in the grid
    cos, sin = np.where(exact, np.rint(cos), cos), np.where(exact, np.rint(sin), sin)
    mirror = np.where(flips, -1.0, 1.0).astype(np.float32)
    theta = np.zeros((len(boxes), 2, 3), dtype=np.float32)
    theta[:, 0, 0], theta[:, 0, 1] = scale * cos * mirror, -scale * sin
    theta[:, 1, 0], theta[:, 1, 1] = scale * sin * mirror, scale * cos
    theta[:, 0, 2], theta[:, 1, 2] = centre_x, centre_y
    grid = torch.nn.functional.affine_grid(torch.from_numpy(theta), [len(boxes), 3, size, size],
                                           align_corners=False)
    nchw = images.permute(0, 3, 1, 2)
    return torch.nn.functional.grid_sample(nchw, grid, mode="bilinear", padding_mode="border",
                                           align_corners=False)


def _standardise(crops: torch.Tensor) -> torch.Tensor:
    """Divide out each crop's mean colour and overall contrast: (B, 3, S, S)."""
    centred = crops - crops.mean(dim=(2, 3), keepdim=True)
    spread = centred.flatten(1).std(dim=1).view(-1, 1, 1, 1)
    # a flat (solid) crop keeps its small residue small instead of blowing it up
    return centred / (spread + 0.02)


def _fill_background(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Images with backdrop pixels set to the product's mean colour, so a crop that
    strays over the edge sees flat colour, not the silhouette: (N, R, R, 3) float32."""
    counts = np.maximum(masks.sum(axis=(1, 2)), 1)[:, None]  # (N, 1)
    means = (images * masks[..., None]).sum(axis=(1, 2)) / counts  # (N, 3)
    return np.where(masks[..., None], images, means[:, None, None, :]).astype(np.float32)


def _check_inputs(images: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate (N, R, R, 3) images (float in [0, 1] or uint8) and (N, R, R) masks."""
    images = np.asarray(images)
    masks = np.asarray(masks)
    if images.ndim != 4 or images.shape[3] != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"images must be (N, R, R, 3), got {images.shape}")
    if masks.shape != images.shape[:3]:
        raise ValueError(f"masks must be (N, R, R) matching images {images.shape[:3]}, "
                         f"got {masks.shape}")
    if len(images) == 0:
        raise ValueError("no images given")
    if images.dtype == np.uint8:
        pixels = images.astype(np.float32) / 255.0
    else:
        pixels = images.astype(np.float32)
        if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 1:
            raise ValueError("float images must be finite and in [0, 1]")
    product = masks.astype(bool)
    empty = np.flatnonzero(~product.any(axis=(1, 2)))
    if len(empty):
        raise ValueError(f"{len(empty)} image(s) have an empty mask (first: index {empty[0]})")
    return pixels, product


__all__ = ["FORMAT", "TextureEncoder", "TextureEncoderConfig", "TrainingSummary",
           "build_network", "nt_xent", "train_texture_encoder"]
