"""descent's own exceptions, each a subclass of the built-in one a caller would catch."""


class ShapeError(ValueError):
    """Tensor shapes that an op cannot combine; the message names the op and the shapes."""


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not fit; the message names the file."""
