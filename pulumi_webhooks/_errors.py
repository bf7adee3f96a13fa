"""The exceptions raised by pulumi-webhooks.

Hierarchy::

    WebhookError                   anything this package raises on purpose
    ├── ConfigurationError         a connection setting is missing or invalid
    ├── SignatureError             a received delivery is not authentic (pulumi_webhooks.verify)
    ├── InputError                 a resource argument breaks a provider rule
    │   └── AdoptionError          a webhook to take over is not what the program declares
    └── ApiError                   a provider call failed (provider, operation, status, code)
        ├── AuthenticationError    credentials rejected (401/403), after one token renewal
        ├── NotFoundError          404, or an id missing from a list endpoint
        ├── LimitError             a documented account limit (PhonePe's 30 webhooks)
        ├── RejectedError          any other refusal (4xx): the request, as sent, is not allowed
        └── TransientError         worth retrying: 408/425/429/5xx, timeouts, dropped connections
                                   (``maybe_committed`` says whether the write may have happened)

Every message is built from the provider's own code and message with
credentials and write-only values redacted, so an error can be shown, logged
or stored without leaking a secret.
"""

from __future__ import annotations

__all__ = [
    "AdoptionError",
    "ApiError",
    "AuthenticationError",
    "ConfigurationError",
    "InputError",
    "LimitError",
    "NotFoundError",
    "RejectedError",
    "SignatureError",
    "TransientError",
    "WebhookError",
]


class WebhookError(Exception):
    """Base class of every error raised by pulumi-webhooks."""


class ConfigurationError(WebhookError):
    """A connection setting (credential, base URL, environment) is missing or invalid."""


class SignatureError(WebhookError):
    """The delivery is not authentic: a header is missing, malformed or does not match."""


class InputError(WebhookError):
    """A resource argument breaks one of the provider's documented rules."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class AdoptionError(InputError):
    """A webhook to take over differs from the declaration: adoption never rewrites it.

    ``differences`` holds (field, live value, declared value) for each field; the
    message shows secret fields without their values."""

    def __init__(
        self,
        what: str,
        differences: list[tuple[str, object, object]],
        *,
        secret: set[str] | frozenset[str] = frozenset(),
        provider: str = "",
    ) -> None:
        self.differences = differences
        lines = []
        for name, live, declared in differences:
            if name in secret:
                lines.append(f"  {name}: the live and declared values differ (a secret: neither is shown)")
            else:
                lines.append(f"  {name}: live {live!r}, declared {declared!r}")
        discover = f"`pulumi-webhooks discover {provider}`" if provider else "`pulumi-webhooks discover`"
        rule = (
            f"{what} differs from this declaration, and adoption takes a webhook over only as it is:\n"
            + "\n".join(lines)
            + f"\nDeclare the live values ({discover} prints them), run `pulumi up` to adopt it, then "
            "change the declaration: the next preview shows the change and `pulumi up` applies it."
        )
        WebhookError.__init__(self, rule)  # the fields are named inside the message
        self.field = differences[0][0] if differences else ""
        self.rule = rule


class ApiError(WebhookError):
    """A call to a provider's API failed."""

    def __init__(
        self,
        provider: str,
        operation: str,
        *,
        status: int | None,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.provider}: {self.operation} failed"
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(str(self.code))
        detail = " ".join(parts)
        if self.message:
            detail = f"{detail}: {self.message}" if detail else self.message
        return f"{where} ({detail})" if detail else where


class AuthenticationError(ApiError):
    """The provider rejected the credentials, even after one token renewal."""


class NotFoundError(ApiError):
    """The webhook (or account) does not exist at the provider."""


class LimitError(ApiError):
    """A documented account limit was reached."""


class RejectedError(ApiError):
    """The provider refused the request as it was sent (a 4xx answer that is not about the
    credentials, a missing webhook, a limit or a retry): a caller that can explain a refusal
    catches this one alone, and every other failure passes it by."""


class TransientError(ApiError):
    """A failure that may succeed when retried.

    ``maybe_committed`` is true when the request reached the provider and its
    effect is unknown (a timeout or dropped connection after sending, or a 5xx
    answer), so a create must look for what it may have made before retrying.
    """

    def __init__(
        self,
        provider: str,
        operation: str,
        *,
        status: int | None,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        maybe_committed: bool = False,
    ) -> None:
        self.maybe_committed = maybe_committed
        super().__init__(
            provider, operation, status=status, code=code, message=message, retry_after=retry_after
        )
