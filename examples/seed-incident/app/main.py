"""Service entry point: `python -m app.main`."""

from app.db import postgres_core
from app.services import reports


def start() -> None:
    print(postgres_core.engine_options(), postgres_core.pool_options(), reports.report_settings())


if __name__ == "__main__":
    start()
