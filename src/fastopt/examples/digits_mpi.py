"""The digits MLP trained on several processes with MPI: each rank computes the gradient
of its share of every minibatch, and fastopt.distributed averages them and steps.

By default the optimizer is a ``ZeroRedundancyOptimizer``: each rank keeps the Adam
state of its own slice of the flat parameter buffer only, updates that slice, and the
ranks then gather the parameters.  ``--data-parallel`` keeps the whole state on every
rank (``DataParallel``).  Every rank sees the same minibatches, so 1, 2 or 4 ranks follow
the same training as one process (to rounding: the gradients are summed in another
order).  ``--checkpoint PATH`` saves every epoch (a directory: one file per rank) and
resumes from it when it exists, also with another number of ranks.

Run:  mpiexec -n 4 python -m mpi4py examples/digits_mpi.py [--quick] [--epochs N]
                                   [--data-parallel] [--checkpoint PATH]
(needs ``pip install 'fastopt[mpi,demo]'``; ``python -m mpi4py`` ends every rank when
one fails.)
"""
from __future__ import annotations

import contextlib
import io
import os
import time

import numpy as np

import fastopt
from fastopt.examples._common import cli as _cli
from fastopt.examples.digits_mlp import accuracy, init_params, load_data, loss_and_grads


def main(quick: bool = False, out_dir: str | None = None, epochs: int | None = None,
         batch_size: int = 64, lr: float = 2e-3, seed: int = 0, data_parallel: bool = False,
         checkpoint: str | None = None) -> dict:
    from fastopt import distributed as dist
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    epochs = epochs or (6 if quick else 30)
    x_train, y_train, x_test, y_test = load_data(seed)
    params = fastopt.flatten(init_params(np.random.default_rng(seed)))
    opt: dist.DataParallel | dist.ZeroRedundancyOptimizer
    if data_parallel:
        opt = dist.DataParallel(fastopt.Adam(params, lr=lr))
    else:
        opt = dist.ZeroRedundancyOptimizer(params, fastopt.Adam, lr=lr)
    steps_per_epoch = -(-len(y_train) // batch_size)
    if checkpoint is not None and os.path.exists(checkpoint):
        dist.load(checkpoint, opt)
    rng = np.random.default_rng(seed)            # every rank draws the same minibatches
    accuracies, step_seconds = [], []
    for epoch in range(epochs):
        order = rng.permutation(len(y_train))
        if epoch < opt.step_count // steps_per_epoch:
            continue                              # done before the checkpoint
        for i in range(0, len(order), batch_size):
            batch = order[i:i + batch_size]
            mine = np.array_split(batch, size)[rank]                     # this rank's share
            loss_and_grads(params, params.grads, x_train[mine], y_train[mine])
            # the loss is a mean over this rank's share: weighted by its size, the mean
            # over the ranks is the mean over the whole batch
            np.multiply(params.grad, len(mine) * size / len(batch), out=params.grad)
            t0 = time.perf_counter()
            opt.step()                            # mean gradient over the ranks, then Adam
            step_seconds.append(time.perf_counter() - t0)
        accuracies.append(accuracy(params, x_test, y_test))
        if checkpoint is not None:
            dist.save(checkpoint, opt, sharded=not data_parallel)
    state_bytes = comm.gather(opt.state_nbytes, root=0)
    return {
        "ranks": size,
        "optimizer": "DataParallel" if data_parallel else "ZeroRedundancyOptimizer",
        "test_accuracy": accuracy(params, x_test, y_test),
        "epochs": epochs,
        "steps": opt.step_count,
        "step_ms": 1e3 * float(np.median(step_seconds)) if step_seconds else 0.0,
        "state_bytes_per_rank": state_bytes,
        "largest_state_bytes_of_a_rank": max(state_bytes) if state_bytes else 0,
        "state_bytes_one_process": 2 * params.data.nbytes,
        "accuracy_per_epoch": accuracies,
    }


def cli(argv=None):
    def options(parser):
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--lr", type=float, default=2e-3)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--data-parallel", action="store_true",
                            help="DataParallel (the whole state on every rank) in place of "
                                 "ZeroRedundancyOptimizer")
        parser.add_argument("--checkpoint", default=None, metavar="PATH",
                            help="save every epoch, and resume from it where it exists")
    from mpi4py import MPI
    if MPI.COMM_WORLD.Get_rank() == 0:
        return _cli(main, __doc__, options, argv)
    with contextlib.redirect_stdout(io.StringIO()):         # rank 0 reports
        return _cli(main, __doc__, options, argv)


if __name__ == "__main__":
    cli()
