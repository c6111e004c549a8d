# Type stub for the compiled module fastopt._core._native (fastopt/_native.pyx).  Names not
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

def kernel_at(name: str, f32: int, f64: int, n_scalars: int, n_seg_in: int, n_out: int,
              owner: Any = ...) -> Kernel: ...

class Stage:
    def __call__(self, scalars: tuple[float, ...]) -> None: ...

class Program(Stage):
    stages: tuple[Stage, ...]
    def __init__(self, *stages: Stage) -> None: ...

class TrustRatios(Stage):
    chunks: np.ndarray
    partial: np.ndarray
    out: np.ndarray
    def __init__(self, chunks: np.ndarray, partial: np.ndarray, out: np.ndarray) -> None: ...

class TensorStage(Stage):
    addrs: np.ndarray
    info: np.ndarray
    scratch: np.ndarray
    owner: Any
    def __init__(self, fn: int, n_scalars: int, addrs: np.ndarray, info: np.ndarray,
                 scratch: np.ndarray, owner: Any = ...) -> None: ...

TENSOR_KERNELS: dict[str, tuple[int, int, int]]

def tensor_stage(name: str, dtype: DTypeLike, addrs: np.ndarray, info: np.ndarray,
                 scratch: np.ndarray) -> TensorStage: ...

class BoundKernel(Stage):
    def __init__(self, kernel: Kernel, addrs: np.ndarray, chunks: np.ndarray,
                 dtype: DTypeLike, nelem: int, seg_in: np.ndarray | None = ...,
                 out: np.ndarray | None = ...) -> None: ...

STORED_CHUNKS: dict[str, tuple[int, int]]

def bind(spec: Any, addrs: np.ndarray, chunks: np.ndarray, dtype: DTypeLike, nelem: int,
         seg_in: np.ndarray | None = ..., out: np.ndarray | None = ...,
         kernels: dict[str, Kernel] | None = ...,
         storage: tuple[str, tuple[bool, ...], bool] | None = ...) -> BoundKernel: ...
def gather_addresses(seq: Sequence[Any], params: list[np.ndarray], labels: list[str],
                     table: np.ndarray, rows: np.ndarray, col: int, span_lo: np.ndarray,
                     span_hi: np.ndarray, span_labels: list[str]) -> None: ...
def overlapping(address: int, nbytes: int, span_lo: np.ndarray, span_hi: np.ndarray) -> int: ...
def group_unchanged(group: dict[str, Any], entry: tuple[Any, ...]) -> bool: ...
def check_params(param_groups: Any, group_arrays: list[tuple[np.ndarray, ...]],
                 labels: list[str], table: np.ndarray, rows: np.ndarray,
                 nbytes: np.ndarray) -> None: ...
MAX_STEP: int

class StepPath:
    step: int
    guarded: bool
    grads_are_default: bool
    compiled: bool
    has_group_state: bool
    joint_hook: bool
    checked: list[Any]
    joined: list[int]
    runs: list[Any]
    plan_groups: list[int]
    scalar_cache: list[Any] | None
    group_arrays: list[tuple[np.ndarray, ...]]
    labels: list[str]
    table: np.ndarray
    rows: np.ndarray
    nbytes: np.ndarray
    run: Any
    def __enter__(self) -> StepPath: ...
    def __exit__(self, *exc: Any) -> bool: ...

def step(self: Any, grads: Any = ..., closure: Any = ...) -> Any: ...
def group_step(opt: Any, gi: int, step: int) -> tuple[tuple[float, ...], dict[str, float] | None]: ...
def uninterrupted(run: Any, args: tuple[Any, ...]) -> Any: ...
def threads_for(nelem: int) -> int: ...
def after_fork_in_child() -> None: ...
def serial_only() -> bool: ...

def __getattr__(name: str) -> Any: ...
