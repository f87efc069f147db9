"""envlock: reproducible lockfiles for GPU Python stacks (torch / CUDA / cuDNN / NCCL)."""

__version__ = "0.1.0"
