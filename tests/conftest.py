import os
import sys

# Tests import the helpers in this folder (harness.py) by name.
sys.path.insert(0, os.path.dirname(__file__))
