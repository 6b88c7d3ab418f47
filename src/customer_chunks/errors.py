"""Errors that the CLI prints as one clear line instead of a traceback."""


class CustomerChunksError(Exception):
    """Base class: the message names what is wrong and how to fix it."""


class InputError(CustomerChunksError):
    """An input file, column or value that cannot be used as given."""


class BuildError(CustomerChunksError):
    """`dbt build` failed; the published warehouse was left as it was."""
