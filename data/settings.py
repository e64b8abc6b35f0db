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
    # Keys accepted by write endpoints (comma-separated in the environment).
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Where Fashion-MNIST IDX files are looked for first (None: the usual places).
    fashion_mnist_dir: Path | None = None

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

    @field_validator("api_keys", mode="before")
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; ``get_settings.cache_clear()`` in tests)."""
    return Settings()
