"""Save checkpoints to argv[1] in a loop until killed: version v has every parameter == v.

Used by test_checkpoint.py's crash test; prints "ready" once imported and set up.
"""

import sys

from descent import checkpoint, nn


def main(path: str, start: int) -> None:
    model = nn.Sequential(nn.Linear(128, 512), nn.BatchNorm1d(512), nn.Linear(512, 64))
    print("ready", flush=True)
    version = start
    while True:
        for tensor in model.parameters():
            tensor.data[...] = version
        checkpoint.save(path, model=model, extra={"version": version})
        version += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
