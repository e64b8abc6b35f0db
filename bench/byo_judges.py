"""The bring-your-own-catalog bench's measuring instruments: small CNNs at 64 px.

pigen's own judge (``generator/judge.py``) trains only on pigen's recipe, with
pigen's 10 categories and 4 patterns, and looks at 32 px, where a foreign
texture's 6-10 px weave is gone. The bench therefore trains its own classifiers
on *real foreign photos* (prepared to 64 px as pigen prepares them): one for the
store's categories, and one for the recipe's TRUE textures (labels pigen never
sees; an instrument of the bench only). Both then score real photos and
generated images alike.

Each image is read as its difference from its own border colour, so a product
on cream, on off-white or on the generator's backdrop looks the same to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BORDER = 3  # pixels of each edge read as the backdrop
SHIFT = 4  # augmentation: random translation up to this many pixels


@dataclass(frozen=True)
class ClassifierConfig:
    """How an instrument is trained (fixed by the bench, not tuned on its results)."""

    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 3e-3
    seed: int = 0


class Classifier(nn.Module):
    """(B, 3, 64, 64) images in [0, 1] -> (B, n_classes) logits."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                    nn.ReLU()]

        self.trunk = nn.Sequential(
            *block(3, 24), nn.MaxPool2d(2),  # 32x32
            *block(24, 48), nn.MaxPool2d(2),  # 16x16
            *block(48, 96), nn.MaxPool2d(2),  # 8x8
            *block(96, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (B, 128)
            nn.Dropout(0.2),
        )
        self.head = nn.Linear(128, n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(from_backdrop(images)))


def from_backdrop(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> each pixel minus the image's median border colour, in [-1, 1]."""
    b = images.shape[0]
    border = torch.cat([images[..., :BORDER, :].reshape(b, 3, -1),
                        images[..., -BORDER:, :].reshape(b, 3, -1),
                        images[..., :, :BORDER].reshape(b, 3, -1),
                        images[..., :, -BORDER:].reshape(b, 3, -1)], dim=2)  # (B, 3, P)
    return images - border.median(dim=2).values[..., None, None]


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, R, R, 3) float in [0, 1] -> (N, 3, R, R) float32."""
    return torch.as_tensor(np.ascontiguousarray(images.transpose(0, 3, 1, 2)),
                           dtype=torch.float32)


def _augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random mirror and shift (edge-padded): a garment is the same a little to the side."""
    flip = torch.rand(len(batch), generator=generator) < 0.5
    batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
    dy, dx = (int(v) for v in torch.randint(-SHIFT, SHIFT + 1, (2,), generator=generator))
    size = batch.shape[-1]
    padded = F.pad(batch, (SHIFT, SHIFT, SHIFT, SHIFT), mode="replicate")
    return padded[..., SHIFT + dy:SHIFT + dy + size, SHIFT + dx:SHIFT + dx + size]


def train_classifier(images: torch.Tensor, labels: np.ndarray, n_classes: int,
                     config: ClassifierConfig | None = None, progress: bool = True,
                     desc: str = "training classifier") -> Classifier:
    """Fit a :class:`Classifier` on (N, 3, R, R) images and (N,) labels (Adam, one-cycle)."""
    from tqdm.auto import tqdm

    config = config or ClassifierConfig()
    if len(images) != len(labels) or len(images) < config.batch_size:
        raise ValueError(f"{len(images)} images for {len(labels)} labels; need at least "
                         f"one batch of {config.batch_size}")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = Classifier(n_classes)
    targets = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    steps_per_epoch = len(images) // config.batch_size
    total = config.epochs * steps_per_epoch
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.learning_rate,
                                                   total_steps=total)
    model.train()
    with tqdm(total=total, desc=desc, unit="step", disable=not progress) as bar:
        for _ in range(config.epochs):
            order = torch.randperm(len(images), generator=generator)
            for step in range(steps_per_epoch):
                rows = order[step * config.batch_size:(step + 1) * config.batch_size]
                loss = F.cross_entropy(model(_augment(images[rows], generator)), targets[rows])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return model.eval()


@torch.inference_mode()
def predict(model: Classifier, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """(N,) predicted class of each (N, 3, R, R) image."""
    model.eval()
    out = [model(images[s:s + batch_size]).argmax(1).numpy()
           for s in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def accuracy(predicted: np.ndarray, truth: Sequence[int] | np.ndarray) -> float:
    """Share of predictions equal to the truth (nan for none)."""
    truth = np.asarray(truth)
    return float(np.mean(predicted == truth)) if len(truth) else float("nan")
