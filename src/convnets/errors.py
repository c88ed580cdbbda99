"""The one exception type the command line turns into a one-line message and a non-zero exit."""


class ConvnetsError(Exception):
    """A problem the user can fix: the message names it and says how."""
