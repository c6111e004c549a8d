"""The optimizer classes, one module per family."""
from .adam import Adam, AdamW
from .lamb import Lamb
from .lion import Lion
from .nadam import NAdam
from .radam import RAdam
from .rprop import Rprop

__all__ = ["Adam", "AdamW"]
__all__ += ["Lamb", "Lion", "NAdam", "RAdam", "Rprop"]
