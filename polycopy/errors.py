"""One small exception tree; each class says what the caller does."""


class PolycopyError(Exception):
    """Base of every error we raise on purpose."""


class ConfigError(PolycopyError):
    """The config file or environment is wrong: print the message, exit 2."""


class TemporaryError(PolycopyError):
    """Retry later (429, 5xx, timeouts, a dropped socket)."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RejectedError(PolycopyError):
    """The venue said no with a reason; do not retry the same thing."""


class AmbiguousError(PolycopyError):
    """We do not know whether the venue acted (timeout after sending): look it up, never resend blindly."""


class OperationalError(PolycopyError):
    """Stop: auth failure, misconfiguration discovered at run time, state corruption."""


class SystemRunningError(PolycopyError):
    """Another polycopy already answers on the admin port."""


class SystemNotRunningError(PolycopyError):
    """No polycopy answers on the admin port."""
