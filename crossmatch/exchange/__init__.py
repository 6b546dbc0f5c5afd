"""Exchanges: checkpointed sources and destinations of signals (files, python-threatexchange
exchanges, STIX bundles), synced into banks so an interrupted sync can resume."""
