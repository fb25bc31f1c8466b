"""Save checkpoints to a path in a loop until killed; version v has every tensor == v.

Used by test_checkpoint.py's crash tests:

    python checkpoint_writer.py PATH START                # saves START, START+1, ... forever
    python checkpoint_writer.py PATH START STEP           # saves START, then dies at STEP
                                                          # of saving START+1

It prints "ready" once set up and "saved V" after each save of version V returns. STEP is
where in `write_atomic` the process SIGKILLs itself: "fsync" (the temporary file is written
but neither synced nor renamed), "replace" (synced, not yet renamed) or "replaced" (renamed
over the old file, the directory not yet synced).
"""

import os
import signal
import sys

from descent import checkpoint, nn


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(128, 512), nn.BatchNorm1d(512), nn.Linear(512, 64))


def fill(model: nn.Module, version: int) -> nn.Module:
    """Set every parameter and buffer to `version`: the state a checkpoint of it holds."""
    for tensor in (*model.parameters(), *model.buffers()):
        tensor.data[...] = version
    return model


def save(path: str | os.PathLike, model: nn.Module, version: int) -> None:
    checkpoint.save(path, model=fill(model, version), extra={"version": version})


def die_at(step: str) -> None:
    """SIGKILL this process at `step` of the next `write_atomic` (see the module docstring)."""
    name, after = {"fsync": ("fsync", False), "replace": ("replace", False),
                   "replaced": ("replace", True)}[step]  # fmt: skip
    real = getattr(os, name)

    def dying(*args, **kwargs):
        if after:
            real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    setattr(os, name, dying)


def main(path: str, start: int, step: str | None = None) -> None:
    model = make_model()
    print("ready", flush=True)
    version = start
    while True:
        save(path, model, version)
        print(f"saved {version}", flush=True)
        version += 1
        if step is not None:
            die_at(step)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:])
