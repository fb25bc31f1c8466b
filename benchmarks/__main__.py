"""`python -m benchmarks [--quick] [--json PATH]`: every benchmark in one process, one table."""

import sys

from benchmarks import conv, engine, epochs, footprint, harness, layers, models

GROUPS = {
    "engine": engine.WORKLOADS,
    "conv": conv.WORKLOADS,
    "layers": layers.WORKLOADS,
    "models": models.WORKLOADS,
    "epochs": epochs.WORKLOADS,
    "import and memory": footprint.measure,
}

if __name__ == "__main__":
    sys.exit(harness.main(None, "Time descent against PyTorch and scikit-learn.", GROUPS))
