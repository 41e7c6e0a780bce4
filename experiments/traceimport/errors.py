"""The one error type of the importer."""


class InputError(Exception):
    """Bad input file or option. The message names the file, the column and
    the data row (or the option); the command prints it and exits with
    status 2 instead of a traceback."""
