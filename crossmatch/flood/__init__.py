"""Flood quarantine: a bank signal that suddenly matches far more uploads than it used to."""

# Evidence key on a match of a signal on flood probation: the actions policy sends it to review
# instead of acting automatically (crossmatch/flood/guard.py, crossmatch/actions/service.py).
PROBATION = "flood_probation"
