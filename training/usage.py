"""The error a command-line mistake raises: ``python -m training`` prints its message as one line
and exits 2, as argparse does for a wrong flag. No torch here: the data modules raise it too."""


class UsageError(ValueError):
    """A value on the command line that cannot work (a device, a data set's shape, a missing
    file): the message says what to pass instead."""
