"""The one brb error tree.

Every failure brb can explain to a person is one of these; each message says
what happened and what to do next. The CLI maps ``exit_code`` to the process
exit status, the HTTP front maps ``http_status`` to an Ollama-style
``{"error": "..."}`` body. Nothing else in brb raises bare exceptions at users.

    BrbError                    exit 1, HTTP 500
    ├── ConfigError             exit 2: bad YAML, unknown key, bad value
    ├── UsageError              exit 2: bad command-line input (a duration, a date)
    ├── StoreError              the database is corrupt, foreign, locked or unwritable
    ├── BadRequest              HTTP 400: a client sent something brb cannot read
    │   ├── BodyTooLarge        HTTP 413
    │   ├── UnsupportedEncoding HTTP 415: a Content-Encoding brb can't decode
    │   ├── ClientTooSlow       HTTP 408: the body did not arrive within front.read_timeout_seconds
    │   └── ConversionError     the cloud can't take this request faithfully: it stays local
    │       └── UnboundedCost   no honest upper bound on its cost: it stays local
    ├── ClientGone              the client left before its answer began (logged 499)
    ├── UpstreamUnavailable     HTTP 502: Ollama can't be reached
    ├── ProviderError           a cloud provider failed (status, retryable, request_id)
    └── ButtonError             a physical button can't be opened or read
"""

from __future__ import annotations


class BrbError(Exception):
    """Base of every error brb reports to a person."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(BrbError):
    """The configuration file can't be used as it is."""

    exit_code = 2


class UsageError(BrbError):
    """A command-line argument can't be understood."""

    exit_code = 2


class StoreError(BrbError):
    """The state database can't be opened, read or written."""


class BadRequest(BrbError):
    """A client's request is malformed; it gets a 4xx, never a 500."""

    http_status = 400


class BodyTooLarge(BadRequest):
    http_status = 413


class UnsupportedEncoding(BadRequest):
    """A request body in a Content-Encoding brb can't decode (it is not passed on)."""

    http_status = 415


class ClientTooSlow(BadRequest):
    """The client did not send its whole body in time (``front.read_timeout_seconds``)."""

    http_status = 408


class ClientGone(BrbError):
    """The client closed its connection before its answer began (nothing to send it)."""

    http_status = 499  # nginx's "client closed request": never seen by the client


class ConversionError(BadRequest):
    """The request can't be converted faithfully for the cloud; it stays local."""

    reason = "not_convertible"  # the request log's reason code when it stays local


class UnboundedCost(ConversionError):
    """No honest upper bound exists on what the provider would bill: it stays local."""

    reason = "unbounded_cost"


class UpstreamUnavailable(BrbError):
    http_status = 502


class UpstreamRefused(UpstreamUnavailable):
    """An Ollama upstream refused the connection or timed out before anything was
    sent or relayed: the request may go to another upstream of the pool."""


class ProviderError(BrbError):
    """A cloud provider answered with an error or could not be reached."""

    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = True,
        request_id: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.request_id = request_id
        self.retry_after_s = retry_after_s


class ButtonError(BrbError):
    """A physical button can't be opened or read."""
