"""What the examples share: finding the optimizers this fastopt has, figures without
pyplot, and the command line every example takes."""
from __future__ import annotations

import argparse
import json
import os
from typing import Any, Callable

import fastopt

DEMO_EXTRA = "pip install 'fastopt[demo]'  (or, in a checkout: pip install '.[demo]')"


def optimizer_class(name: str | tuple[str, ...]):
    """The fastopt class called ``name`` (or the first of several spellings), or None
    where this version of fastopt does not have it."""
    for n in (name,) if isinstance(name, str) else name:
        cls = getattr(fastopt, n, None)
        if cls is not None:
            return cls
    return None


def available(entries):
    """Split ``(label, class name, ...)`` entries into those this fastopt has, as
    ``(label, class, ...)``, and the labels of those it lacks."""
    present, missing = [], []
    for label, name, *rest in entries:
        cls = optimizer_class(name)
        if cls is None:
            missing.append(label)
        else:
            present.append((label, cls, *rest))
    return present, missing


def need(module: str, extra: str = DEMO_EXTRA):
    """Import ``module`` or fail with a message that says how to install it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise SystemExit(f"this example needs {module.split('.')[0]}: {extra}") from e


def single_threaded_blas():
    """A context in which NumPy's BLAS runs on one thread (threadpoolctl, which
    scikit-learn installs, else nothing).  The examples' matrix products are tiny: on a
    busy machine a BLAS thread pool spinning up for each of them costs ten times the
    product itself.  fastopt's own threads are not affected."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def figure(**kwargs):
    """A matplotlib Figure drawn by Agg, without pyplot: no global backend is changed,
    so the examples can run inside a notebook or a GUI session unchanged."""
    need("matplotlib")
    from matplotlib.figure import Figure
    kwargs.setdefault("layout", "constrained")
    return Figure(**kwargs)


def save(fig, out_dir: str, name: str, dpi: int = 80) -> str:
    """Write ``fig`` as ``out_dir/name``.  Minor ticks on log axes are dropped: on axes
    spanning many decades they are most of the drawing time and add nothing."""
    from matplotlib.ticker import NullLocator
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log":
                axis.set_minor_locator(NullLocator())
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    # A 256-colour palette PNG: a third of the size of full colour, which matters for the
    # figures committed under docs/; it looks the same (Pillow comes with matplotlib).
    import io
    from PIL import Image
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(256).save(path, optimize=True)
    return path


PRECISIONS = ("full", "bfloat16", "8bit")


def state_precision_options(parser: argparse.ArgumentParser) -> None:
    """--state-precision and --min-8bit-size: how the example's optimizers keep their
    state (see fastopt's docs/state_precision.md)."""
    parser.add_argument("--state-precision", choices=PRECISIONS, default="full",
                        help="the optimizers' state in the parameters' dtype (full), bfloat16 "
                             "or 8-bit blocks (default: full)")
    parser.add_argument("--min-8bit-size", type=int, default=4096, metavar="N",
                        help="with 8bit, parameters of fewer elements keep full state "
                             "(default 4096; 0 quantizes every one)")


def precision_kwargs(cls, state_precision: str = "full", min_8bit_size: int = 4096) -> dict:
    """The keyword arguments that give optimizer class ``cls`` this state precision (none
    for full precision, or for a class whose state has no other form: Rprop)."""
    if state_precision == "full" or not getattr(cls, "state_is_moments", False):
        return {}
    return dict(state_precision=state_precision, min_8bit_size=min_8bit_size)


def state_report(opt) -> dict[str, int]:
    """The bytes ``opt``'s state takes and how many parameter values have it in 8 bits
    (under "8bit", tensors below min_8bit_size keep full state: read from state_dict,
    where 8-bit state is a dict of codes and absmax)."""
    sizes = dict((key, array.size) for key, array in opt.named_parameters())
    state = opt.state_dict()["state"]
    return {"state_nbytes": int(opt.state_nbytes),
            "parameters_with_8bit_state": int(sum(
                sizes[key] for key, buffers in state.items()
                if any(isinstance(b, dict) for b in buffers.values())))}


def cli(main: Callable[..., dict[str, Any]], doc: str | None,
        extra: Callable[[argparse.ArgumentParser], None] | None = None, argv=None) -> dict:
    """The command line of an example: --quick, --out DIR, plus its own options."""
    first_paragraph = " ".join((doc or "").strip().split("\n\n")[0].split())
    parser = argparse.ArgumentParser(description=first_paragraph)
    parser.add_argument("--quick", action="store_true", help="a short run (seconds), as the tests do")
    parser.add_argument("--out", default="fastopt-demo", metavar="DIR",
                        help="where the figures go (default: ./fastopt-demo)")
    if extra is not None:
        extra(parser)
    args = vars(parser.parse_args(argv))
    quick, out = args.pop("quick"), args.pop("out")
    metrics = main(quick=quick, out_dir=out, **args)
    print(json.dumps(scalars(metrics), indent=2))
    if args.get("state_precision") == "8bit" and metrics.get("parameters_with_8bit_state") == 0:
        print(f"note: every parameter has fewer than --min-8bit-size={args['min_8bit_size']} "
              "elements, so the state stayed in full precision (--min-8bit-size 0 quantizes all)")
    return metrics


def scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    """The top-level numbers and strings of a metrics dict (no curves or tables)."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}
