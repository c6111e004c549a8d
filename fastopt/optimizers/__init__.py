"""The optimizer classes, one module per family."""
from .adam import Adam, AdamW

__all__ = ["Adam", "AdamW"]
