"""agents: the Faust wiring and every process around it (worker, report reader,
notifier, simulator, command line)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("backupwatch")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
