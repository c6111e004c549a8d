# Type stub for the compiled module fastopt._kernels (fastopt/_kernels.pyx).  Names not
# listed here are typed Any (see __getattr__), so new kernels need no stub change to type-check.
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

CPU_LEVEL: str
KERNELS: dict[str, Kernel]

def openmp_enabled() -> bool: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def set_parallel_threshold(n: int) -> None: ...
def get_parallel_threshold() -> int: ...
def _load_math() -> tuple[str, ModuleType]: ...

class Kernel:
    name: str
    n_scalars: int
    n_seg_in: int
    n_out: int

class BoundKernel:
    def __init__(self, kernel: Kernel, addrs: np.ndarray, chunks: np.ndarray,
                 dtype: DTypeLike, nelem: int, seg_in: np.ndarray | None = ...,
                 out: np.ndarray | None = ...) -> None: ...
    def __call__(self, scalars: tuple[float, ...]) -> None: ...

def bind(name: str, addrs: np.ndarray, chunks: np.ndarray, dtype: DTypeLike, nelem: int,
         seg_in: np.ndarray | None = ..., out: np.ndarray | None = ...) -> BoundKernel: ...
def gather_addresses(seq: Sequence[Any], params: list[np.ndarray], labels: list[str],
                     table: np.ndarray, rows: np.ndarray, col: int) -> None: ...

def __getattr__(name: str) -> Any: ...
