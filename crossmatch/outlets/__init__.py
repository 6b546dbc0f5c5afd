"""Outlets: who posted known material, the outlets they form, and the new material they spread (issue 16)."""
