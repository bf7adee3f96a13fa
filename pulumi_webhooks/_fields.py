"""Field rules and field flags shared by the providers' pydantic models.

Each rule is an annotated type, so a model field names its rule once and the
resource check, the request bodies and the sandbox all enforce the same thing.

Each flag is a marker in a field's ``Annotated`` metadata (pydantic keeps it in
``FieldInfo.metadata`` and ignores it when validating), so a resource's state
model says on each field whether it is secret, replaces, is write-only, adopts
or is an output; :func:`flags_of` reads them, and the lifecycle takes every
list it needs from that one reading.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

__all__ = [
    "Adopts",
    "AnyUrl",
    "Flag",
    "Flags",
    "HttpsUrl",
    "Lenient",
    "NonEmptyStr",
    "Output",
    "Payload",
    "Replaces",
    "Secret",
    "WriteOnly",
    "event_list",
    "flags_of",
    "has_userinfo",
    "is_local_host",
    "is_loopback_host",
    "public_targets_only",
    "request_body",
    "rule_of",
    "suggest",
]


class Payload(BaseModel):
    """Base of every payload model: unknown fields are errors, assignment is validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True, defer_build=True)


BodyT = TypeVar("BodyT", bound=BaseModel)


def request_body(model: type[BodyT], args: BaseModel) -> BodyT:
    """The request body ``model`` made of the values ``args`` hold for its fields, not validated
    again: the arguments model gives each of them the body's own type and rules (it extends the
    body model, or declares the same types), so check has applied them already."""
    return model.model_construct(**{name: getattr(args, name) for name in model.model_fields})


class Lenient(BaseModel):
    """Base of response models: providers add fields over time, so extras are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)


#: Longest delivery URL accepted; providers store URLs in bounded columns.
MAX_URL_LENGTH = 2048

# Set while checking a declaration for a provider on the internet: a delivery target that only
# this machine's network can reach would never receive anything.
_public_targets: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pulumi_webhooks_public_targets", default=None
)


@contextlib.contextmanager
def public_targets_only(provider_host: str | None) -> Iterator[None]:
    """Within the block, URLs must name hosts the provider at ``provider_host`` can reach:
    no loopback, link-local or unspecified addresses (unless the provider is itself local)."""
    token = _public_targets.set(None if provider_host is None or is_local_host(provider_host) else provider_host)
    try:
        yield
    finally:
        _public_targets.reset(token)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``host`` as an IP address (brackets, a zone and IPv4-mapped IPv6 undone), else None."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback_host(host: str) -> bool:
    """``localhost`` itself or a loopback address, parsed as an address (not matched as text:
    ``127.0.0.1.attacker.example`` and ``localhost.attacker.example`` are names anyone can own)."""
    if host.rstrip(".").lower() == "localhost":
        return True
    address = _address(host)
    return address is not None and address.is_loopback


def is_local_host(host: str) -> bool:
    """Loopback, link-local or unspecified: reachable from this machine only."""
    name = host.strip("[]").rstrip(".").lower()
    if is_loopback_host(name) or name.endswith(".localhost"):
        return True
    address = _address(name)
    return address is not None and (address.is_link_local or address.is_unspecified)


def has_userinfo(value: str) -> bool:
    """Whether a URL carries ``user[:password]@`` (which must never be stored or echoed)."""
    return "@" in urlsplit(value.strip()).netloc


def _url(value: str, schemes: tuple[str, ...]) -> str:
    value = value.strip()
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters, got {len(value)}")
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise ValueError(f"must be a {wanted} URL, got {parts.scheme + ':' if parts.scheme else 'no scheme'}")
    if any(c.isspace() for c in value):
        raise ValueError("must not contain white space")
    if has_userinfo(value):
        # Never echo the value: it would carry the password into logs and the state.
        raise ValueError("must not carry a user name or password (user:password@host); "
                         "use the provider's own webhook authentication")
    if not parts.hostname:
        raise ValueError(f"must be an absolute URL with a host, got {value!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"has an invalid port in {parts.netloc!r} (must be 1-65535)") from None
    if port == 0:
        raise ValueError(f"has an invalid port in {parts.netloc!r} (must be 1-65535)")
    provider_host = _public_targets.get()
    if provider_host is not None and is_local_host(parts.hostname):
        raise ValueError(
            f"names {parts.hostname!r}, which only this machine can reach; "
            f"{provider_host} delivers over the internet (a local base URL, such as the sandbox, allows it)"
        )
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


def _flag(value: Any) -> Any:
    # One rule for every provider: no "false"/"yes"/1 coercion, a declaration says exactly true or false.
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]
"""A boolean argument: only ``True`` or ``False``."""


def suggest(value: str, allowed: Sequence[str]) -> str:
    """' (did you mean 'x'?)' for a near miss, else ''."""
    close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def rule_of(error: Mapping[str, Any]) -> str:
    """The rule a pydantic error states, in plain words (without pydantic's prefixes)."""
    message = str(error.get("msg", "is invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message


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


# -- field flags ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Secret:
    """Stored as a Pulumi secret: a secret argument, or a secret the provider makes."""


@dataclass(frozen=True)
class Replaces:
    """An argument the API cannot change in place: a new value replaces the resource."""


@dataclass(frozen=True)
class WriteOnly:
    """An argument the API never returns: kept as declared, never read back."""


@dataclass(frozen=True)
class Adopts:
    """The argument that names an existing webhook to adopt instead of creating one."""


@dataclass(frozen=True)
class Output:
    """A property the resource exposes beyond its arguments; ``id=True`` for the one that
    carries the resource id (an argument may be one too: the adoption argument)."""

    id: bool = False


_ARGUMENT_ONLY = (Replaces, WriteOnly, Adopts)


class Flags(NamedTuple):
    """What a resource's state model declares on its fields, in field order."""

    outputs: tuple[str, ...]
    replace_on: frozenset[str]
    write_only: frozenset[str]
    secret_properties: tuple[str, ...]
    id_output: str | None
    adopt_argument: str | None


def flags_of(state: type[BaseModel], arguments: Mapping[str, Any]) -> Flags:
    """The flags on the fields of ``state``, whose fields named in ``arguments`` are the
    resource's arguments; raises TypeError for flags that cannot hold together."""
    marked: dict[type, list[str]] = {kind: [] for kind in (Secret, Replaces, WriteOnly, Adopts)}
    outputs: list[str] = []
    ids: list[str] = []
    for name, info in state.model_fields.items():
        markers = [m for m in info.metadata if isinstance(m, (Secret, Output, *_ARGUMENT_ONLY))]
        argument_only = [type(m).__name__ for m in markers if isinstance(m, _ARGUMENT_ONLY)]
        if argument_only and name not in arguments:
            raise TypeError(f"{state.__qualname__}.{name} is not an argument, so it cannot be {argument_only[0]}")
        for marker in markers:
            if isinstance(marker, Output):
                outputs.append(name)
                if marker.id:
                    ids.append(name)
            else:
                marked[type(marker)].append(name)
        if name not in arguments and name not in outputs:
            raise TypeError(f"{state.__qualname__}.{name} is neither an argument nor marked Output()")
    adopts = marked[Adopts]
    for what, names in (("Output(id=True)", ids), ("Adopts()", adopts)):
        if len(names) > 1:
            raise TypeError(f"{state.__qualname__}: {', '.join(names)} are all {what}; one field at most")
    return Flags(
        outputs=tuple(outputs),
        replace_on=frozenset(marked[Replaces]),
        write_only=frozenset(marked[WriteOnly]),
        secret_properties=tuple(marked[Secret]),
        id_output=ids[0] if ids else None,
        adopt_argument=adopts[0] if adopts else None,
    )
