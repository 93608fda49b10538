"""Findings: what breaks, where, why; and the suppressions users write."""
