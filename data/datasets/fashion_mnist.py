"""Fashion-MNIST: find the official IDX files on disk, or download and verify them.

Search order for a split's two files (images and labels, ``.gz`` or plain):

1. ``root`` — the caller's folder (pass ``settings.fashion_mnist_dir``, i.e.
   ``PIGEN_FASHION_MNIST_DIR``; this module reads no environment itself);
2. Debian's ``/usr/share/datasets/fashion-mnist`` (``apt-get install -y dataset-fashion-mnist``);
3. the cache folder (``~/.cache/pigen/fashion-mnist`` unless given);
4. with ``download=True``, the official mirror, into the cache.

Downloads are checked against the SHA-256 of the *uncompressed* IDX payload, not of
the ``.gz`` file: Debian re-gzips the files (different gzip bytes, identical content),
so a hash of the payload is the one identity that holds for every copy. For the
record, zalando's README gives these MD5s of its ``.gz`` files: train-images
8d4fb7e6c68d591d4c3dfef9ec88bf0d, train-labels 25c81989df183df01b3e8a0aad5dffbe,
t10k-images bef4ecab320f06d8554ea6380940ec79, t10k-labels bb300cfdad3c16e7a12a480ee83cd310.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from pigen.data.datasets.idx import parse_idx, read_idx_bytes

log = logging.getLogger(__name__)

Split = Literal["train", "test"]

#: The official label names, in label order (0..9).
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: The mirror zalandoresearch/fashion-mnist points to; files are ``<stem>.gz``.
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
APT_HINT = "apt-get install -y dataset-fashion-mnist"
DOWNLOAD_TIMEOUT_S = 60.0

#: (images stem, labels stem) of each split.
FILE_STEMS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: SHA-256 of the uncompressed official files (computed from Debian's copies, whose
#: payload MD5s match the ones torchvision publishes for the raw files).
RAW_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


@dataclass(frozen=True, eq=False)
class FashionMNIST:
    """One split of Fashion-MNIST, as stored (no scaling, no padding)."""

    images: np.ndarray  # (N, 28, 28) uint8, 0 = background
    labels: np.ndarray  # (N,) uint8 in 0..9, indexes class_names
    class_names: tuple[str, ...]
    split: Split
    source: Path  # the folder the two files were read from, for provenance

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.images.shape != (n, 28, 28) or self.images.dtype != np.uint8:
            raise ValueError(
                f"images must be (N, 28, 28) uint8 with N = {n} labels, "
                f"got {self.images.shape} {self.images.dtype}"
            )
        if self.labels.ndim != 1 or self.labels.dtype != np.uint8:
            raise ValueError(
                f"labels must be (N,) uint8, got {self.labels.shape} {self.labels.dtype}"
            )
        if n and int(self.labels.max()) >= len(self.class_names):
            raise ValueError(f"label {int(self.labels.max())} has no class name")

    def __len__(self) -> int:
        return len(self.labels)


def default_cache_dir() -> Path:
    """``~/.cache/pigen/fashion-mnist`` — where downloads go unless told otherwise."""
    return Path.home() / ".cache" / "pigen" / "fashion-mnist"


def load_fashion_mnist(
    split: Split = "train",
    root: Path | None = None,
    download: bool = True,
    *,
    cache_dir: Path | None = None,
) -> FashionMNIST:
    """Load one split, searching the usual places (see the module docstring).

    Returns
    -------
    FashionMNIST
        Images (N, 28, 28) uint8 and labels (N,) uint8, with the official class names.

    Raises
    ------
    FileNotFoundError
        When no folder holds the split and downloading is off or failed; the
        message lists every place looked at and how to install the files.
    ValueError
        When a file is corrupt, or a download does not match its checksum.
    """
    if split not in FILE_STEMS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    folders = [f for f in (root, DEBIAN_DIR, cache) if f is not None]
    for folder in folders:
        found = find_split_files(Path(folder), split)
        if found is not None:
            return _load_files(*found, split=split, source=Path(folder))
        if folder is root:
            log.warning("Fashion-MNIST %r files not in %s; looking elsewhere", split, root)

    failure = "download=False"
    if download:
        try:
            paths = download_split(split, cache)
            return _load_files(*paths, split=split, source=cache)
        except OSError as exc:  # URLError, timeouts and refused connections are OSErrors
            failure = f"download from {BASE_URL} failed: {exc}"
    looked = "\n".join(f"  - {Path(f)}" for f in folders)
    images_stem, labels_stem = FILE_STEMS[split]
    raise FileNotFoundError(
        f"Fashion-MNIST {split!r} files ({images_stem}[.gz], {labels_stem}[.gz]) not found in:\n"
        f"{looked}\n({failure}). Install them with `{APT_HINT}`, or set "
        "PIGEN_FASHION_MNIST_DIR to a folder that holds them."
    )


def find_split_files(folder: Path, split: Split) -> tuple[Path, Path] | None:
    """(images, labels) of ``split`` in ``folder``, ``.gz`` or plain; None if one is missing."""
    found = []
    for stem in FILE_STEMS[split]:
        candidates = [folder / f"{stem}.gz", folder / stem]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            return None
        found.append(path)
    return found[0], found[1]


def download_split(split: Split, cache_dir: Path) -> tuple[Path, Path]:
    """Download the split's two ``.gz`` files into ``cache_dir``, verified, and return them.

    Each file lands under a temporary name in ``cache_dir`` and is renamed only after
    its payload's SHA-256 matches :data:`RAW_SHA256`, so a half-written or tampered
    file never sits where the search would find it.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem in FILE_STEMS[split]:
        final = cache_dir / f"{stem}.gz"
        if not final.is_file():
            url = f"{BASE_URL}{stem}.gz"
            log.info("downloading %s -> %s", url, final)
            fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=f".{stem}.", suffix=".part")
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                _fetch(url, tmp)
                verify_payload(tmp, stem)
                tmp.replace(final)
            finally:
                tmp.unlink(missing_ok=True)
        paths.append(final)
    return paths[0], paths[1]


def verify_payload(path: Path, stem: str) -> None:
    """Raise ``ValueError`` unless the uncompressed bytes of ``path`` match ``RAW_SHA256[stem]``."""
    digest = hashlib.sha256(read_idx_bytes(path)).hexdigest()
    if digest != RAW_SHA256[stem]:
        raise ValueError(
            f"{path}: SHA-256 of the uncompressed {stem} is {digest}, expected "
            f"{RAW_SHA256[stem]}; the download is corrupt or not the official file"
        )


def _fetch(url: str, dest: Path) -> None:
    """Stream ``url`` into ``dest`` (http(s) or file URLs; tests use the latter)."""
    with (
        urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
        dest.open("wb") as out,
    ):
        shutil.copyfileobj(response, out)


def _load_files(images_path: Path, labels_path: Path, split: Split, source: Path) -> FashionMNIST:
    images = parse_idx(read_idx_bytes(images_path), name=str(images_path))
    labels = parse_idx(read_idx_bytes(labels_path), name=str(labels_path))
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{images_path}: expected (N, 28, 28) uint8 images, got {images.shape} {images.dtype}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{labels_path}: expected (N,) uint8 labels, got {labels.shape} {labels.dtype}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels"
        )
    if len(labels) and int(labels.max()) >= len(CLASS_NAMES):
        raise ValueError(f"{labels_path}: label {int(labels.max())} is outside 0..9")
    return FashionMNIST(
        images=images, labels=labels, class_names=CLASS_NAMES, split=split, source=source
    )
