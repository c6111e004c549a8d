"""The digits MLP trained on several processes with MPI (fastopt.distributed).

The code is src/fastopt/examples/digits_mpi.py (installed with fastopt); read and copy it
from there.
Run:  mpiexec -n 4 python -m mpi4py examples/digits_mpi.py [--quick] [--data-parallel]
                                                          [--checkpoint PATH]
"""
from fastopt.examples.digits_mpi import cli

if __name__ == "__main__":
    cli()
