"""What the peers run on: parameter sizes, parameters and gradients, MLP-shaped lists of
arrays, and the NumPy work a training loop does between two steps."""
from __future__ import annotations

import math

import numpy as np

SIZES = (1_000, 100_000, 1_000_000, 10_000_000)
LARGE = 1_000_000            # sizes from here on are "large" (skipped by quick runs)


def data(dtype, shapes, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Parameters and gradients of the given shapes (gradients are fixed: the benches
    measure the step, not the backward pass)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    params = [rng.standard_normal(s, dtype=dtype) for s in shapes]
    grads = [rng.standard_normal(s, dtype=dtype) for s in shapes]
    return params, grads


def mlp_shapes(n_tensors: int = 200, total: int = 1_000_000) -> list[tuple[int, ...]]:
    """``n_tensors`` arrays shaped like an MLP's weights and biases (alternating), about
    ``total`` elements in all."""
    layers = n_tensors // 2
    widths = [64, 96, 128, 80, 112]
    scale = math.sqrt(total / sum(widths[i % 5] * widths[(i + 1) % 5] for i in range(layers)))
    shapes: list[tuple[int, ...]] = []
    for i in range(layers):
        a = max(1, round(widths[i % 5] * scale))
        b = max(1, round(widths[(i + 1) % 5] * scale))
        shapes += [(a, b), (b,)]
    return shapes


class Work:
    """A few milliseconds of NumPy work, as a forward and backward pass would do between
    two steps: long enough for a thread pool to go to sleep.  Call it to run it once.

    ``sin``: np.sin over ``nbytes`` (default 8 MB) of float32, on one thread; ``matmul``: a
    float32 matmul of square matrices of ``nbytes`` (default 1 MB) in all, on BLAS's
    threads (which a spinning OpenMP worker would compete with)."""

    def __init__(self, kind: str = "sin", nbytes: int | None = None):
        nbytes = nbytes or (8 << 20 if kind == "sin" else 1 << 20)
        if kind == "sin":
            self.x = np.linspace(0, 1, nbytes // 4, dtype=np.float32)
            self.y = np.empty_like(self.x)
        elif kind == "matmul":
            side = int(math.sqrt(nbytes // 12))
            rng = np.random.default_rng(0)
            self.x, self.w = (rng.standard_normal((side, side), dtype=np.float32)
                              for _ in range(2))
            self.y = np.empty_like(self.x)
        else:
            raise ValueError(f"unknown work {kind!r}: sin or matmul")
        self.kind = kind

    def __call__(self) -> None:
        if self.kind == "sin":
            np.sin(self.x, out=self.y)
        else:
            np.matmul(self.x, self.w, out=self.y)


def busy_work(kind: str = "sin", nbytes: int | None = None) -> Work:
    """``Work(kind, nbytes)``: NumPy work to run between two steps."""
    return Work(kind, nbytes)
