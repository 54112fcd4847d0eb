"""Errors that carry a message meant for the user, not a traceback."""


class EnhanceError(Exception):
    """A problem with one input file; the rest of the run goes on.

    Args:
        path: the input the problem concerns.
        message: what is wrong, in plain words.
    """

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = str(path)
        self.message = message


class ModelLoadError(Exception):
    """The model (config, checkpoint or archive) cannot be loaded; nothing runs."""
