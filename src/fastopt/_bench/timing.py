"""Timing: round robin over the peers, so that noise on a shared machine hits all of them;
and waiting for the machine to go quiet."""
from __future__ import annotations

import gc
import statistics
import sys
import time
from typing import Any, Callable


def measure(steps: dict[str, Callable[[], Any]], budget: float = 0.3,
            **kwargs: Any) -> dict[str, float]:
    """Median seconds per call of each function, timed in interleaved rounds (see
    ``measure_samples``)."""
    return {name: statistics.median(s)
            for name, s in measure_samples(steps, budget, **kwargs).items()}


def measure_samples(steps: dict[str, Callable[[], Any]], budget: float = 0.3,
                    min_rounds: int = 5, max_rounds: int = 1000, sample: float = 2e-3,
                    warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per call of each function, one sample per round, in interleaved rounds.

    Each function is called ``warmup`` times first (numba compiles, caches fill), then
    timed in samples of enough calls to last about ``sample`` seconds, one sample per
    function per round, until each has had ``budget`` seconds (and ``min_rounds``).  Each
    round starts one function further on, so that no function always runs right after the
    same one: a training iteration timed right after another took 3-5% longer than one
    timed after the work alone (the caches it finds)."""
    number: dict[str, int] = {}
    for name, f in steps.items():
        for _ in range(warmup):
            f()
        t0 = time.perf_counter()
        f()
        one = max(time.perf_counter() - t0, 1e-7)
        number[name] = max(1, int(sample / one))
    samples: dict[str, list[float]] = {name: [] for name in steps}
    spent = dict.fromkeys(steps, 0.0)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        names = list(steps)
        for r in range(max_rounds):
            first = r % len(names)
            for name in names[first:] + names[:first]:
                f = steps[name]
                n = number[name]
                t0 = time.perf_counter()
                for _ in range(n):
                    f()
                dt = time.perf_counter() - t0
                samples[name].append(dt / n)
                spent[name] += dt
            if r + 1 >= min_rounds and min(spent.values()) >= budget:
                break
    finally:
        if gc_was:
            gc.enable()
    return samples


def cpu_idle(seconds: float = 1.0) -> float:
    """The fraction of CPU time idle over the next ``seconds`` (Linux; 1.0 elsewhere)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)
    try:
        i0, t0 = sample()
        time.sleep(seconds)
        i1, t1 = sample()
    except OSError:
        return 1.0
    return (i1 - i0) / max(t1 - t0, 1)


def wait_quiet(max_wait: float, idle: float = 0.9) -> None:
    """Wait up to ``max_wait`` seconds for two seconds in a row with the CPUs idle."""
    deadline = time.monotonic() + max_wait
    calm = 0
    while time.monotonic() < deadline:
        calm = calm + 1 if cpu_idle() >= idle else 0
        if calm >= 2:
            return
    print("  (the machine did not go quiet; measuring anyway)", file=sys.stderr)
