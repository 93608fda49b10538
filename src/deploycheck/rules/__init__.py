"""Rules: one module per rule code; each module's docstring is the rule's user documentation.

A rule module defines ``CODE``, ``NAME`` and ``check(ctx) -> Iterable[Finding]``. Add a rule by adding a module
here, listing it in ``RULES``, and adding a fixture under ``tests/fixtures/rules/<CODE>/``.
"""

from deploycheck.rules import (
    dc101_module_not_found,
    dc102_name_not_found,
    dc103_attribute_not_found,
    dc104_relative_import_beyond_top,
    dc105_import_refused,
    dc201_undefined_name,
    dc202_syntax_error,
    dc203_not_analyzed,
    dc501_stale_file,
    dc502_missing_from_image,
    dc503_python_version,
    dc504_foreign_build,
    dc505_entry_point_unresolved,
    dc506_requirement_not_installed,
)

RULES = [
    dc101_module_not_found,
    dc102_name_not_found,
    dc103_attribute_not_found,
    dc104_relative_import_beyond_top,
    dc105_import_refused,
    dc201_undefined_name,
    dc202_syntax_error,
    dc203_not_analyzed,
    dc501_stale_file,
    dc502_missing_from_image,
    dc503_python_version,
    dc504_foreign_build,
    dc505_entry_point_unresolved,
    dc506_requirement_not_installed,
]
