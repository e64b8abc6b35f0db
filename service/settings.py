"""The service's runtime settings, read once from the environment (``PIGEN_`` prefix).

Every component takes its settings through :func:`get_settings` (cached), so tests
can override them by clearing the cache or passing a ``Settings`` explicitly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from pigen.data.settings import StoreSettings


class Settings(StoreSettings):
    """pigen's configuration. Unknown ``PIGEN_*`` keys in a ``.env`` file are rejected."""

    model_config = SettingsConfigDict(
        env_prefix="PIGEN_", env_file=".env", extra="forbid", frozen=True
    )

    # "auto" picks CUDA when torch sees a GPU, else CPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Static keys with every scope (comma-separated in the environment), on top of the
    # hashed keys `pigen apikey create` stores in the database.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # GET endpoints demand a key with the ``read`` scope too (default: open reads,
    # as a storefront's product images are public).
    require_read_key: bool = False
    # Micro-batcher: at most this many images per generator forward (1 = no
    # batching, one forward per request) ...
    batch_max_size: int = Field(default=32, ge=1, le=256)
    # ... and at most this long (ms) waiting for a batch to fill once one image waits.
    batch_max_wait_ms: float = Field(default=5.0, ge=0.0, le=1000.0)
    # Torch threads of the server's generator (a storefront box shares its cores).
    generator_threads: int = Field(default=2, ge=1, le=64)
    # Origins allowed to call the API from a browser (comma-separated; empty: none).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Generated images on disk (None: <storage_dir>/images).
    image_cache_dir: Path | None = None
    # Request limits: images per request, display size of an image, request body bytes.
    max_images_per_request: int = Field(default=16, ge=1, le=256)
    max_image_size: int = Field(default=512, ge=32, le=512)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # How often (s) a server checks the registry for versions another process
    # activated, so replicas follow `pigen recsys activate` (0: never).
    model_refresh_seconds: float = Field(default=30.0, ge=0.0)

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @property
    def images_dir(self) -> Path:
        """Where generated images are cached (``image_cache_dir`` or storage_dir/images)."""
        return self.image_cache_dir or self.storage_dir / "images"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; ``get_settings.cache_clear()`` in tests)."""
    return Settings()
