"""The optimizer classes, one module per family."""
from .adafactor import Adafactor
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .ademamix import AdEMAMix
from .adopt import ADOPT
from .asgd import ASGD
from .lamb import Lamb
from .lbfgs import LBFGS
from .lion import Lion
from .muon import Muon
from .nadam import NAdam
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .schedulefree import ScheduleFreeAdamW, ScheduleFreeSGD
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad",
           "Adadelta", "Rprop", "Lion", "Lamb", "ADOPT", "AdEMAMix", "ASGD",
           "ScheduleFreeAdamW", "ScheduleFreeSGD", "SparseAdam", "Muon", "LBFGS", "Adafactor"]
