"""Domain errors, shared by the CLI, the API and batch jobs.

Each carries a message that says what to do next; the API maps them to HTTP
status codes in one handler and the CLI prints them.
"""


class CrossmatchError(Exception):
    """Base class: a problem the user can fix."""


class NotFound(CrossmatchError):
    pass


class Conflict(CrossmatchError):
    pass


class InvalidInput(CrossmatchError):
    pass
