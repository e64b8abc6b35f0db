"""Texture grouping variants on a kept foreign catalog, without re-running extraction.

``bench/byo_catalog.py --keep DIR`` leaves the prepared photos
(``DIR/extraction/catalog-images-64.npz``), the trained encoder
(``DIR/extraction/texture_encoder.safetensors``) and the truth
(``DIR/catalog/truth.csv``). This probe groups them several ways and prints the
adjusted Rand index at the K the criterion chose and at the true K, so a change to
the features or the K criterion is measured in seconds, not minutes:

* ``encoder`` — the learned features alone (what extraction did before);
* ``stats`` — :mod:`~pigen.data.catalog.texture_stats` alone;
* ``combined`` — both, as extraction groups them
  (:func:`~pigen.data.catalog.texture_stats.grouping_features`).

    python bench/texture_probe.py DIR [--encoder-weight 0.5]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foreign_recipe import read_truth  # noqa: E402

from pigen.data.catalog.extract import LEARNED_WEIGHT  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="a byo_catalog.py --keep folder")
    parser.add_argument("--encoder-weight", type=float, default=LEARNED_WEIGHT,
                        help="the encoder block's weight in 'combined' (default: extraction's)")
    parser.add_argument("--true-k", type=int, default=4)
    args = parser.parse_args()
    import torch

    from pigen.data.catalog.texture import TextureEncoder, adjusted_rand_index, group_textures
    from pigen.data.catalog.texture_stats import (
        combine_blocks,
        grouping_features,
        spectrum_features,
        stat_blocks,
    )

    torch.set_num_threads(1)
    cache = np.load(args.folder / "extraction" / "catalog-images-64.npz", allow_pickle=False)
    images, masks = cache["images"], cache["masks"]
    truth = {t.item_id: t.texture for t in read_truth(args.folder / "catalog" / "truth.csv")}
    labels = [truth[i] for i in cache["item_ids"]]
    started = time.perf_counter()
    stats = spectrum_features(images, masks)
    print(f"stats: {stats.shape} in {time.perf_counter() - started:.1f}s")
    variants = {"stats": combine_blocks(stat_blocks(stats))}
    encoder_file = args.folder / "extraction" / "texture_encoder.safetensors"
    if encoder_file.is_file():
        learned = TextureEncoder.load(encoder_file).features(images, masks)
        variants["encoder"] = learned
        variants["combined"] = grouping_features(learned, stats,
                                                 learned_weight=args.encoder_weight)
    for name, features in variants.items():
        chosen = group_textures(features)
        fixed = group_textures(features, k=args.true_k)
        print(f"{name:9s} K={chosen.k} ARI {adjusted_rand_index(labels, chosen.labels):.3f}"
              f" | K={args.true_k} ARI {adjusted_rand_index(labels, fixed.labels):.3f}"
              f" | silhouette {chosen.scores}")


if __name__ == "__main__":
    main()
