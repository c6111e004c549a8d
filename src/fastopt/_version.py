"""The one place fastopt's version is written: pyproject.toml reads it (setuptools
``dynamic = ["version"]``) and ``fastopt.__version__`` imports it."""
__version__ = "0.1.0"
