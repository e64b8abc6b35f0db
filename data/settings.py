"""Runtime settings, read once from the environment (``PIGEN_`` prefix) and validated.

Every component takes its settings through :func:`get_settings` (cached), so tests
can override them by clearing the cache or passing a ``Settings`` explicitly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """pigen's configuration. Unknown ``PIGEN_*`` keys in a ``.env`` file are rejected."""

    model_config = SettingsConfigDict(
        env_prefix="PIGEN_", env_file=".env", extra="forbid", frozen=True
    )

    # Where models, catalog images and generated images live. Relative paths are
    # resolved against the working directory at start-up.
    storage_dir: Path = Path("var")
    # SQLAlchemy URL. None means the embedded default: a SQLite file in storage_dir.
    database_url: str | None = None
    # "auto" picks CUDA when torch sees a GPU, else CPU.
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Static keys with every scope (comma-separated in the environment), on top of the
    # hashed keys `pigen apikey create` stores in the database.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Where Fashion-MNIST IDX files are looked for first (None: the usual places).
    fashion_mnist_dir: Path | None = None

    # --- service ---
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

    @field_validator("database_url")
    @classmethod
    def _known_dialect(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if not url.startswith(("sqlite://", "postgresql")):
            raise ValueError(
                f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:///PATH "
                "or postgresql+psycopg://USER@HOST/DB"
            )
        if url.startswith("postgresql://") or url.startswith("postgresql+psycopg2"):
            # psycopg 3 is the driver we ship; say so rather than fail on import.
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        """The URL in use: the configured one, or ``sqlite:///<storage_dir>/pigen.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.storage_dir / 'pigen.db'}"

    @property
    def catalog_dir(self) -> Path:
        return self.storage_dir / "catalog"

    @property
    def models_dir(self) -> Path:
        return self.storage_dir / "models"

    @property
    def images_dir(self) -> Path:
        """Where generated images are cached (``image_cache_dir`` or storage_dir/images)."""
        return self.image_cache_dir or self.storage_dir / "images"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; ``get_settings.cache_clear()`` in tests)."""
    return Settings()
