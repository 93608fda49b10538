"""Unified configuration: one accessor for every setting (replaces the old DatabaseConfig class)."""

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class UnifiedConfig:
    database_url: str
    db_pool_size: int
    db_echo: bool


@lru_cache(maxsize=1)
def get_unified_config() -> UnifiedConfig:
    return UnifiedConfig(
        database_url=os.environ.get("DATABASE_URL", "postgresql://localhost/app"),
        db_pool_size=int(os.environ.get("DB_POOL_SIZE", "5")),
        db_echo=os.environ.get("DB_ECHO", "") == "1",
    )
