"""``deploycheck migrate``: declared migrations of a symbol to its replacement.

``config`` reads ``[[tool.deploycheck.migrations]]``; ``scan`` walks each file once with the engine's walker and
records what may name a symbol; ``resolve`` follows names through the program (imports, aliases, re-exports,
star imports) to the object they name; ``finder`` turns both into the references of each migration; ``state``
keeps the baseline count users commit; ``status`` reports; ``codemod`` rewrites with LibCST; ``apply`` checks
the edited tree in memory and writes it atomically.
"""
