"""Reports still written against the old configuration class."""

from app.core.config import DatabaseConfig


def report_settings() -> dict:
    return {"echo": DatabaseConfig.ECHO}
