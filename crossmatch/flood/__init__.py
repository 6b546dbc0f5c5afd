"""Flood quarantine: a bank signal that suddenly matches far more uploads than it used to."""
