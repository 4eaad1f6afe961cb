"""Serving: the server side's only way to load a model (verified first)."""
