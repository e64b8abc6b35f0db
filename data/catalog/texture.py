"""Texture without labels: a self-supervised encoder and the groups it finds.

``texture_encoder`` learns features from a catalog's own images (contrastive, so
they encode texture rather than colour or shape); ``texture_groups`` clusters
them into K groups, shows each group on a contact sheet, and scores agreement
with labels. This module is the one name the rest of pigen imports.
"""

from __future__ import annotations

from pigen.data.catalog.texture_encoder import (
    TextureEncoder,
    TextureEncoderConfig,
    TrainingSummary,
    train_texture_encoder,
)
from pigen.data.catalog.texture_groups import (
    TextureGroups,
    adjusted_rand_index,
    assign_textures,
    group_contact_sheet,
    group_textures,
)

__all__ = ["TextureEncoder", "TextureEncoderConfig", "TextureGroups", "TrainingSummary",
           "adjusted_rand_index", "assign_textures", "group_contact_sheet", "group_textures",
           "train_texture_encoder"]
