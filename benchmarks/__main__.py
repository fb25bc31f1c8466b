"""`python -m benchmarks [--quick] [--json PATH]`: every benchmark in one process, one table."""

import sys

from benchmarks import conv, engine, harness, layers

GROUPS = {"engine": engine.WORKLOADS, "conv": conv.WORKLOADS, "layers": layers.WORKLOADS}

if __name__ == "__main__":
    sys.exit(harness.main(None, "Time descent against PyTorch: engine, conv, layers.", GROUPS))
