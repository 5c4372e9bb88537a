"""Every exception polycopy raises on purpose, in one small tree; each class says what the caller does."""


class PolycopyError(Exception):
    """Base of every error we raise on purpose."""


class ConfigError(PolycopyError):
    """The config file or environment is wrong: print the message, exit 2."""


class TemporaryError(PolycopyError):
    """Retry later (429, 425, 5xx, timeouts, a dropped socket), never sooner than `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RejectedError(PolycopyError):
    """The venue said no with a reason; do not retry the same thing."""


class OperationalError(PolycopyError):
    """Stop: auth failure, misconfiguration discovered at run time, state corruption."""


class SystemRunningError(PolycopyError):
    """Another polycopy already answers on the admin port."""


class SystemNotRunningError(PolycopyError):
    """No polycopy answers on the admin port."""


class Malformed(PolycopyError, ValueError):
    """Input from outside that is not what its wire promises (a frame, a row, an answer, calldata).

    The caller counts it by `kind`, logs the first of each kind per minute with `excerpt` (a
    truncated copy of the input), drops that input and carries on with the next: bad input is
    never a failure of the thread, and never reaches the kill switch.
    """

    def __init__(self, kind: str, detail: str = "", excerpt: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail
        self.excerpt = excerpt


class NotSettlement(PolycopyError, ValueError):
    """A transaction to another contract or function than a settlement we decode: ignore it."""


class PlanRejected(PolycopyError):
    """The order cannot be placed as asked: end the intent with `reason`; never sign or send it.
    `recorded` is what the journal keeps: the code, or for a slippage refusal the price the copy
    would have needed (policy/limits.refusal_text), so a refusal has its cost attached."""

    def __init__(self, reason: str, detail: str = "", recorded: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.recorded = recorded or reason


class UnauthenticatedFrame(PolycopyError):
    """An actor-transport frame without a valid MAC: drop it unread and count it (actors/transport_auth.py)."""


class DuplicateKey(PolycopyError):
    """A YAML mapping names `key` twice (at `mark`): the config loader reports it as a ConfigError."""

    def __init__(self, key: str, mark):
        super().__init__(key)
        self.key, self.mark = key, mark


class LaneFrameError(PolycopyError):
    """A lane hello or frame that does not verify: the connection is closed unread (polycopy/lane)."""


class LaneCodecError(PolycopyError):
    """A lane body the codec cannot read: a bug, since every body was sealed by a process with the key."""
