"""The optimizer classes, one module per family."""
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .ademamix import AdEMAMix
from .adopt import ADOPT
from .asgd import ASGD
from .lamb import Lamb
from .lion import Lion
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .adafactor import Adafactor

__all__ = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad",
           "Adadelta", "Rprop", "Lion", "Lamb", "ADOPT", "AdEMAMix", "ASGD", "Adafactor"]
