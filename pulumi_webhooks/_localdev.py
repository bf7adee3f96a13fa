"""Local webhook development: ``pulumi-webhooks trigger`` and ``pulumi-webhooks listen``.

``trigger`` builds one delivery with the sandbox's own provider code (the same
payloads and signing the sandbox uses for its admin ``deliver`` call), so what a
receiver sees is what the sandbox, and the provider, would send. ``listen``
watches a running sandbox and, for every webhook a stack creates or changes
there, asks the sandbox to sign a sample event and post it to a local URL.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

from ._errors import WebhookError
from ._fields import suggest
from ._registry import BY_NAME, NAMES
from .sandbox import Delivery, HTTPError, Sandbox, apps
from .sandbox._admin import is_loopback_target

__all__ = ["PRINTED_URL", "Listener", "Triggered", "events", "trigger"]

#: The ``url`` a printed (not sent) delivery names: nothing is ever posted there.
PRINTED_URL = "https://receiver.invalid/webhook"


def events(provider: str) -> tuple[str, ...]:
    """The event names ``trigger`` accepts for ``provider`` (VelaFi: its event types)."""
    return tuple(n for n in BY_NAME[provider].events() if n != "*")  # Spritz's wildcard is a subscription, not an event


@dataclass
class Triggered:
    """A delivery built by :func:`trigger`, what verifies it, and the receiver's answer if sent."""

    provider: str
    event: str
    delivery: Delivery
    verify_with: dict[str, str]  # keyword arguments of pulumi_webhooks.verify.<provider>
    status: int | None = None
    answer: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider": self.provider,
            "event": self.event,
            "url": self.delivery.url,
            "headers": self.delivery.headers,
            "body": self.delivery.body.decode(),
            "verify_with": self.verify_with,
        }
        if self.status is not None:
            out["status"] = self.status
        return out


def _check_target(url: str) -> None:
    if not is_loopback_target(url):
        raise WebhookError(
            f"{url!r} is not a loopback http(s) URL: deliveries go only to this machine "
            "(e.g. http://127.0.0.1:8000/webhooks)"
        )


def trigger(
    provider: str,
    event: str,
    *,
    forward_to: str | None = None,
    signing: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Triggered:
    """One ``event`` delivery signed as ``provider`` signs it, posted to ``forward_to`` when given.

    ``signing`` holds what the provider signs with (``secret``; VelaFi ``private_key`` as PEM;
    PhonePe ``username`` and ``password``); what is missing is made up and returned in
    ``verify_with``.
    """
    if provider not in BY_NAME:
        hint = suggest(provider, NAMES)
        raise WebhookError(f"unknown provider {provider!r}{hint}; one of {', '.join(NAMES)}")
    allowed = events(provider)
    if event not in allowed:
        raise WebhookError(f"unknown {provider} event {event!r}{suggest(event, allowed)}; one of {', '.join(allowed)}")
    if forward_to is not None:
        _check_target(forward_to)
    sandbox = Sandbox(providers=[BY_NAME[provider].app_class()])
    app = sandbox.apps[provider]
    try:
        webhook_id, verify_with = app.sample(forward_to or PRINTED_URL, event, signing or {})
        delivery = app.delivery(webhook_id, event)
    except HTTPError as exc:
        raise WebhookError(f"{provider}: {exc.message}") from None
    done = Triggered(provider, event, delivery, verify_with)
    if forward_to is not None:
        try:
            answer = httpx.post(forward_to, content=delivery.body, headers=delivery.headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise WebhookError(f"could not deliver to {forward_to}: {exc}") from None
        done.status, done.answer = answer.status_code, answer.text
    return done


class Listener:
    """Forwards, for each webhook created or changed through a sandbox's provider APIs (as
    ``pulumi up`` does), a sample delivery signed by the sandbox to ``forward_to``."""

    def __init__(self, sandbox_url: str, forward_to: str, *, out: TextIO = sys.stdout, interval: float = 0.25) -> None:
        _check_target(forward_to)
        self.sandbox_url = sandbox_url.rstrip("/")
        self.forward_to = forward_to
        self.out = out
        self.interval = interval
        self.client = httpx.Client(base_url=f"{self.sandbox_url}/_sandbox", timeout=10)
        self.id_fields = {cls.name: cls.id_field for cls in apps()}
        self.stopped = threading.Event()
        self.forwarded: list[dict[str, Any]] = []
        try:
            journal = self._get("/journal")
        except httpx.HTTPError as exc:
            raise WebhookError(f"no sandbox at {self.sandbox_url}: {exc}") from None
        # Only changes made from now on are forwarded: what is there already was delivered, or not, before.
        self.seq = max((row["seq"] for row in journal), default=0)
        self.seen = {provider: self._webhooks(provider) for provider in self.id_fields}

    def _get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params).raise_for_status().json()

    def _webhooks(self, provider: str) -> dict[str, str]:
        key = self.id_fields[provider]
        return {str(row[key]): json.dumps(row, sort_keys=True) for row in self._get(f"/webhooks/{provider}")}

    def poll(self) -> int:
        """Forward a delivery for every webhook changed since the last poll; how many were sent."""
        rows = self._get("/journal", since=self.seq)
        if not rows:
            return 0
        self.seq = max(row["seq"] for row in rows)
        written = {
            row["provider"] for row in rows
            if row["method"] not in ("GET", "HEAD") and row["status"] is not None and row["status"] < 400
        }
        sent = 0
        for provider in sorted(written & set(self.id_fields)):
            now = self._webhooks(provider)
            before = self.seen[provider]
            self.seen[provider] = now
            for webhook_id, row in now.items():
                if before.get(webhook_id) != row:
                    sent += self._forward(provider, webhook_id)
        return sent

    def _forward(self, provider: str, webhook_id: str) -> int:
        answer = self.client.post(f"/deliver/{provider}/{webhook_id}", json={"target": self.forward_to})
        result = answer.json()
        if answer.status_code != 200:
            # Not every webhook is delivered to (disabled, Kotani Pay without a secret): say why.
            print(f"{provider} {webhook_id}: not delivered: {result.get('error')}", file=sys.stderr, flush=True)
            return 0
        outcome = result.get("status", result.get("error"))
        print(f"{provider} {webhook_id} -> {self.forward_to}: {outcome}", file=self.out, flush=True)
        self.forwarded.append({"provider": provider, "webhook_id": webhook_id, **result})
        return 1

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.poll()
            except httpx.HTTPError as exc:
                print(f"sandbox at {self.sandbox_url} did not answer: {exc}", file=sys.stderr, flush=True)
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()

    def close(self) -> None:
        self.client.close()

