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
    return metrics


def scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    """The top-level numbers and strings of a metrics dict (no curves or tables)."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}
