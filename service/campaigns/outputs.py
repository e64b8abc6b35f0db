"""What a marketer gets: ``manifest.parquet`` (every image, in shard order) and a contact sheet.

Both are rebuilt from the shards' parts and image files, so finishing a
campaign twice gives the same files.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pigen.service.campaigns.shards import PARTS_DIR, part_path
from pigen.service.campaigns.store import CampaignInfo

if TYPE_CHECKING:
    from PIL import Image

MANIFEST = "manifest.parquet"
CONTACT_SHEET = "contact_sheet.png"
LABEL_WIDTH = 120  # pixels for the user id at the left of each contact-sheet row


@dataclass(frozen=True)
class CampaignOutputs:
    manifest: Path
    contact_sheet: Path
    images: int


def finalize_outputs(campaign: CampaignInfo, sample_users: int = 24, scale: int = 2
                     ) -> CampaignOutputs:
    """Assemble the manifest from every shard's part and draw the contact sheet.

    Raises ``RuntimeError`` when a part is missing or the image count is off
    (a shard marked done whose files are gone).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = campaign.output_dir
    parts = [part_path(root, s) for s in range(campaign.n_shards)]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise RuntimeError(f"campaign {campaign.id}: manifest parts missing: {missing[:5]}")
    table = pa.concat_tables([pq.read_table(p) for p in parts])
    if table.num_rows != campaign.n_images:
        raise RuntimeError(f"campaign {campaign.id}: {table.num_rows:,} manifest rows, "
                           f"expected {campaign.n_images:,}")
    manifest = root / MANIFEST
    tag = uuid.uuid4().hex[:8]  # a run presumed dead may still be finishing too
    tmp = root / f".{MANIFEST}.{tag}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, manifest)
    sheet = root / CONTACT_SHEET
    tmp = root / f".{CONTACT_SHEET}.{tag}.tmp"
    contact_sheet(root, table.select(["user_id", "image_path"]).to_pydict(), campaign,
                  sample_users, scale).save(tmp, format="PNG")
    os.replace(tmp, sheet)
    return CampaignOutputs(manifest, sheet, table.num_rows)


def contact_sheet(root: Path, rows: dict[str, list[str]], campaign: CampaignInfo,
                  sample_users: int, scale: int) -> Image.Image:
    """One row per sampled user (a seeded sample, in campaign order): id, then their images."""
    from PIL import Image, ImageDraw

    users: list[str] = list(dict.fromkeys(rows["user_id"]))
    rng = np.random.default_rng(campaign.seed)
    chosen = sorted(rng.choice(len(users), size=min(sample_users, len(users)), replace=False))
    paths: dict[str, list[str]] = {}
    for user, path in zip(rows["user_id"], rows["image_path"], strict=True):
        paths.setdefault(user, []).append(path)
    resolution = int(campaign.generator.config.get("generator", {}).get("resolution", 32))
    tile = resolution * scale
    sheet = Image.new("RGB", (LABEL_WIDTH + campaign.images_per_user * tile,
                              len(chosen) * tile), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for row, index in enumerate(chosen):
        user = users[index]
        draw.text((4, row * tile + tile // 2 - 5), user[:18], fill=(0, 0, 0))
        for col, path in enumerate(paths[user]):
            with Image.open(root / path) as image:
                tile_image = image.convert("RGB").resize((tile, tile),
                                                         Image.Resampling.NEAREST)
            sheet.paste(tile_image, (LABEL_WIDTH + col * tile, row * tile))
    return sheet


def clear_leftovers(root: Path) -> None:
    """Remove temporary files a killed run left in the output and parts folders.

    (A killed shard's temporary images, beside its users' images, are removed
    when the shard is redone.)
    """
    for folder in (root, root / PARTS_DIR):
        if folder.is_dir():
            for leftover in folder.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)
