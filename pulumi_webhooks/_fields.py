"""Field rules shared by the providers' pydantic models.

Each rule is an annotated type, so a model field names its rule once and the
resource check, the request bodies and the sandbox all enforce the same thing.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict


class Payload(BaseModel):
    """Base of every payload model: unknown fields are errors, assignment is validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True, defer_build=True)


class Lenient(BaseModel):
    """Base of response models: providers add fields over time, so extras are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)


def _url(value: str, schemes: tuple[str, ...]) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise ValueError(f"must be a {wanted} URL, got {value!r}")
    if not parts.hostname:
        raise ValueError(f"must be an absolute URL with a host, got {value!r}")
    if any(c.isspace() for c in value):
        raise ValueError("must not contain white space")
    return value


def _https(value: str) -> str:
    return _url(value, ("https",))


def _http_or_https(value: str) -> str:
    return _url(value, ("https", "http"))


HttpsUrl = Annotated[str, AfterValidator(_https)]
"""An absolute https:// URL (the providers that require TLS for deliveries)."""

AnyUrl = Annotated[str, AfterValidator(_http_or_https)]
"""An absolute http:// or https:// URL."""


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonEmptyStr = Annotated[str, AfterValidator(_non_empty)]


def suggest(value: str, allowed: Sequence[str]) -> str:
    """' (did you mean 'x'?)' for a near miss, else ''."""
    close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_event(value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(
            f"unknown event {value!r}{suggest(value, allowed)}; documented events: {', '.join(allowed)}"
        )
    return value


def _no_string(value: Any) -> Any:
    # A bare string would otherwise be accepted as a list of characters by nothing,
    # but give the user the reason in their own terms.
    if isinstance(value, str):
        raise ValueError("must be a list of event names, not a single string")
    return value


def event_list(allowed: Sequence[str], *, min_length: int = 0) -> Any:
    """A list of documented event names, sorted and de-duplicated (order never makes a diff)."""

    def normalise(values: list[str]) -> list[str]:
        for v in values:
            check_event(v, allowed)
        out = sorted(set(values))
        if len(out) < min_length:
            raise ValueError(f"must name at least {min_length} event")
        return out

    return Annotated[list[str], BeforeValidator(_no_string), AfterValidator(normalise)]
