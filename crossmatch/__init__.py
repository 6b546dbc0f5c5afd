"""crossmatch: recognise known violent-extremist content across edits, formats and languages."""
__version__ = "0.1.0"
