"""`descent.accelerator`, as `torch.accelerator`: no GPU backend is installed, so there is none."""


def is_available() -> bool:
    return False


def current_accelerator(check_available: bool = False):
    """None: the CPU is the only device, and torch's code then falls back to it."""
    return None


def device_count() -> int:
    return 0
