"""Renderers: the same result as text for people and as versioned JSON for machines."""
