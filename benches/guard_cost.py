"""Cost of the guarded step (max_grad_norm, nonfinite="skip") against a plain step.

Adam, float32, 10M elements, the four variants stepped round-robin in one process
(5 warm-up rounds, then the median of 30): run `python benches/guard_cost.py`.
"""
import time, statistics as st, numpy as np, fastopt
n = 10_000_000
rng = np.random.default_rng(0)
g = rng.standard_normal(n).astype(np.float32)
variants = {"plain": {}, "max_grad_norm=1.0": dict(max_grad_norm=1.0), 'nonfinite="skip"': dict(nonfinite="skip"),
            "both": dict(max_grad_norm=1.0, nonfinite="skip")}
opts = {k: fastopt.Adam([rng.standard_normal(n).astype(np.float32)], lr=1e-3, **kw) for k, kw in variants.items()}
times = {k: [] for k in opts}
for rep in range(5 + 30):                      # 5 warm-up rounds, then 30 measured, round-robin
    for k, o in opts.items():
        t0 = time.perf_counter(); o.step([g]); dt = time.perf_counter() - t0
        if rep >= 5: times[k].append(dt)
base = st.median(times["plain"])
for k, ts in times.items():
    m = st.median(ts); print(f"{k:20s} median {m*1e3:7.2f} ms  {m/base:5.3f}x plain")
