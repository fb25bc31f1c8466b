"""Benchmarks that measure descent against PyTorch on the same machine, in the same run."""
