"""What a wrapper (DataParallel, ZeroRedundancyOptimizer) shows of the optimizer it
wraps, in its ``optimizer`` attribute."""
from __future__ import annotations

from typing import Any


def forwarded(name: str, doc: str | None = None, settable: bool = False) -> Any:
    """A property that reads (and, where ``settable``, sets) ``self.optimizer.<name>``."""
    def get(self: Any) -> Any:
        return getattr(self.optimizer, name)

    def set_(self: Any, value: Any) -> None:
        setattr(self.optimizer, name, value)
    return property(get, set_ if settable else None, doc=doc)
