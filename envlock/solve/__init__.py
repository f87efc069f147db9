"""Solving: spec and indexes -> lock, one torch / CUDA / cuDNN / NCCL set per target (`solver.solve`)."""
