"""`descent.cuda`, as `torch.cuda`: no GPU backend is installed, so nothing is available."""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """Nothing to seed without a GPU; accepted so that torch code runs as written."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed without a GPU; accepted so that torch code runs as written."""
