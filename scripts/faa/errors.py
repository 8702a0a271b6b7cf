"""The audit's exit statuses and the exceptions that carry them, and the
argparse types of numeric options (a bad value is a usage error, exit 2)."""

import argparse

EXIT_OK = 0        # every check held
EXIT_GATE = 1      # the gate failed
EXIT_USAGE = 2     # usage or configuration error (bad scenario, bad flag)
EXIT_TOOL = 3      # a required tool is missing


class AuditError(Exception):
    """An error the user can act on; `status` is the process exit status."""

    status = EXIT_USAGE

    def __init__(self, message, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status


class UsageError(AuditError):
    status = EXIT_USAGE


class ToolMissing(AuditError):
    """A tool is not installed; the message names the Debian package."""

    status = EXIT_TOOL

    def __init__(self, tool, package, hint=""):
        msg = f"required tool '{tool}' not found: apt-get install -y {package}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)
        self.tool = tool
        self.package = package


def positive_int(text):
    """argparse type: a whole number >= 1 (--jobs, counts)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text):
    """argparse type: a finite number > 0 (scales, seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, not {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, not {text}")
    return value
