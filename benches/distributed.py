"""fastopt.distributed's step on 1, 2 and 4 ranks, beside torch's DistributedDataParallel
and ZeroRedundancyOptimizer over gloo on the same model size, in one run.

    python benches/distributed.py [--sizes 1e6 1e7] [--ranks 1 2 4] [--steps N]
                                  [--optimizer Adam]

The model is 8 float32 tensors of equal size (torch's ZeroRedundancyOptimizer deals whole
tensors out to the ranks; fastopt's cuts the flat buffer).  Every configuration runs as
its own MPI job (fastopt: ``mpiexec -n R``) or process group (torch: gloo over
localhost), one after the other; each rank times every step after a barrier, and the
table gives the medians of the slowest rank's times:

- ``step``: the whole optimizer step (fastopt: ``opt.step()``; torch: the backward
  pass's gradient allreduce, which DDP hooks into, plus ``opt.step()``);
- ``update``: the optimizer's update alone (fastopt: the wrapped optimizer's step on the
  already reduced gradient; torch: ``opt.step()``, which for ZeroRedundancyOptimizer also
  broadcasts the parameters);
- ``communication``: step - update;
- ``state MB/rank``: the optimizer state the largest rank keeps.

Ranks beyond the machine's cores share them, as the CI machines do: the times then show
the oversubscription too.  torch runs only where it is installed with gloo.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.abspath(__file__)
TENSORS = 8


# ---- the ranks' side ---------------------------------------------------------------------

def fastopt_worker(kind: str, size: int, steps: int, optimizer: str) -> None:
    import fastopt
    from fastopt import distributed as dist
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    values = np.random.default_rng(0).standard_normal(size).astype(np.float32)
    params = fastopt.flatten({f"w{i}": part for i, part in
                              enumerate(np.array_split(values, TENSORS))})
    params.grad[...] = np.random.default_rng(1 + comm.rank).standard_normal(
        params.grad.size).astype(np.float32) * 1e-3
    cls = getattr(fastopt, optimizer)
    if kind == "ZeroRedundancyOptimizer":
        opt = dist.ZeroRedundancyOptimizer(params, cls, lr=1e-6)
        update = lambda: opt.optimizer.step(opt._piece_grads_arg)     # noqa: E731
    else:
        opt = dist.DataParallel(cls(params, lr=1e-6))
        update = opt.optimizer.step
    totals, updates = [], []
    for i in range(steps + 3):
        comm.Barrier()
        t0 = time.perf_counter()
        opt.step()
        t1 = time.perf_counter()
        comm.Barrier()
        t2 = time.perf_counter()
        update()
        t3 = time.perf_counter()
        if i >= 3:
            totals.append(t1 - t0)
            updates.append(t3 - t2)
    report(comm.gather((totals, updates, opt.state_nbytes), root=0))


def report(gathered) -> None:
    if gathered is None:
        return
    totals = np.max([g[0] for g in gathered], axis=0)
    updates = np.max([g[1] for g in gathered], axis=0)
    print(json.dumps({"step": float(np.median(totals)), "update": float(np.median(updates)),
                      "state": max(g[2] for g in gathered)}), flush=True)


#: torch's gloo workers sometimes abort at random ("terminate called without an active
#: exception", SIGABRT: 2 runs in 5 on a Zen 5 VM): a run is tried this many times.
TORCH_ATTEMPTS = 3


def torch_worker(rank: int, world: int, kind: str, size: int, steps: int, port: int,
                 optimizer: str, queue) -> None:
    import torch
    import torch.distributed as tdist
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                             world_size=world)
    values = np.random.default_rng(0).standard_normal(size).astype(np.float32)
    module = torch.nn.ParameterList([torch.nn.Parameter(torch.from_numpy(part.copy()))
                                     for part in np.array_split(values, TENSORS)])
    model = torch.nn.parallel.DistributedDataParallel(module)
    c = [torch.from_numpy(part * 1e-3) for part in np.array_split(
        np.random.default_rng(1 + rank).standard_normal(size).astype(np.float32), TENSORS)]
    opt_cls = getattr(torch.optim, optimizer)
    if kind == "ZeroRedundancyOptimizer":
        from torch.distributed.optim import ZeroRedundancyOptimizer
        opt = ZeroRedundancyOptimizer(model.parameters(), optimizer_class=opt_cls, lr=1e-6)
    else:
        opt = opt_cls(model.parameters(), lr=1e-6, fused=optimizer in ("Adam", "AdamW"))
    totals, updates = [], []
    for i in range(steps + 3):
        # the gradient is c: the backward pass is DDP's allreduce
        loss = sum((w * ci).sum() for w, ci in zip(model.module, c))
        tdist.barrier()
        t0 = time.perf_counter()
        loss.backward()
        t1 = time.perf_counter()
        opt.step()
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        if i >= 3:
            totals.append(t2 - t0)
            updates.append(t2 - t1)
    if kind == "ZeroRedundancyOptimizer":
        local = opt.optim.state
    else:
        local = opt.state
    nbytes = sum(v.numel() * v.element_size() for st in local.values() for v in st.values()
                 if torch.is_tensor(v) and v.dim() > 0)
    every = [None] * world
    tdist.all_gather_object(every, (totals, updates, nbytes))
    if rank == 0:
        queue.put(every)
    tdist.barrier()
    tdist.destroy_process_group()


# ---- the driver --------------------------------------------------------------------------

def run_fastopt(kind: str, size: int, ranks: int, steps: int, optimizer: str) -> dict | None:
    mpiexec = next((p for p in (os.path.join(os.path.dirname(sys.executable), "mpiexec"),
                                shutil.which("mpiexec")) if p and os.path.exists(p)), None)
    if mpiexec is None:
        return None
    out = subprocess.run([mpiexec, "-n", str(ranks), sys.executable, "-m", "mpi4py", HERE,
                          "--worker", kind, str(size), str(steps), optimizer],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_torch(kind: str, size: int, ranks: int, steps: int, optimizer: str) -> dict | None:
    try:
        import torch.distributed as tdist
        import torch.multiprocessing as tmp
    except ImportError:
        return None
    if not tdist.is_gloo_available():
        return None
    import socket
    ctx = tmp.get_context("spawn")
    for attempt in range(TORCH_ATTEMPTS):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        queue = ctx.SimpleQueue()
        try:
            tmp.spawn(torch_worker, args=(ranks, kind, size, steps, port, optimizer, queue),
                      nprocs=ranks, join=True)
            break
        except tmp.ProcessExitedException as e:
            print(f"torch {kind}, {ranks} ranks, attempt {attempt + 1}: {e}", file=sys.stderr)
    else:
        return {"failed": f"its workers died {TORCH_ATTEMPTS} times (see stderr)"}
    every = queue.get()
    totals = np.max([e[0] for e in every], axis=0)
    updates = np.max([e[1] for e in every], axis=0)
    return {"step": float(np.median(totals)), "update": float(np.median(updates)),
            "state": max(e[2] for e in every)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    parser.add_argument("--ranks", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--optimizer", default="Adam")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)
    from fastopt._bench.report import machine_line
    print(machine_line(not args.no_torch))
    print(f"{args.optimizer}, float32; medians of {args.steps} steps of the slowest rank\n")
    for size in map(int, args.sizes):
        print(f"### {size:,} parameters\n")
        print("| | ranks | step ms | communication ms | update ms | state MB/rank |")
        print("|---|---|---|---|---|---|")
        for ranks in args.ranks:
            for who, kind in (("fastopt", "DataParallel"), ("fastopt", "ZeroRedundancyOptimizer"),
                              ("torch", "DataParallel"), ("torch", "ZeroRedundancyOptimizer")):
                if who == "torch" and args.no_torch:
                    continue
                run = run_fastopt if who == "fastopt" else run_torch
                r = run(kind, size, ranks, args.steps, args.optimizer)
                if r is None:
                    continue
                name = f"{who} {kind}" if who == "fastopt" else (
                    "torch DDP" if kind == "DataParallel" else "torch DDP + ZeroRedundancyOptimizer")
                if "failed" in r:
                    print(f"| {name} | {ranks} | {r['failed']} | | | |", flush=True)
                    continue
                print(f"| {name} | {ranks} | {1e3 * r['step']:.2f} | "
                      f"{1e3 * (r['step'] - r['update']):.2f} | {1e3 * r['update']:.2f} | "
                      f"{r['state'] / 1e6:.1f} |", flush=True)
        print()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, size, steps, optimizer = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        fastopt_worker(kind, size, steps, optimizer)
    else:
        main()
