"""The optimizer classes, one module per family."""
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adam", "AdamW"]
__all__ += ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax"]
