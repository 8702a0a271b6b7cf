"""The audit's exit statuses and the exceptions that carry them."""

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
