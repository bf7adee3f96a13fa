"""The shaped floor plus this package's imports, in the program and in the provider host.

Resources of benchmarks/shaped.py whose provider class lives in a module that imports the
five provider modules: the provider host imports them where it would import the webhooks'
(at its first unpickling of a provider), and httpx, which the host imports at its first
call. Between S and W, it shows how much of W - S the
imports are.
"""

from __future__ import annotations

import httpx  # noqa: F401  (the provider host imports it at its first call)

import pulumi_webhooks.kotanipay
import pulumi_webhooks.phonepe
import pulumi_webhooks.safepay
import pulumi_webhooks.spritz
import pulumi_webhooks.velafi  # noqa: F401
from benchmarks.shaped import Shaped, ShapedProvider


class ImportingShapedProvider(ShapedProvider):
    """A shaped provider whose unpickling imports the package."""


class ImportingShaped(Shaped, module="shaped", name="Shaped"):
    provider_class = ImportingShapedProvider
