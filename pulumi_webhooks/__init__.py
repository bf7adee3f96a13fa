"""Pulumi resources for the webhook settings of payment providers.

The resources live in one module per provider (``pulumi_webhooks.phonepe`` and so on);
this package itself offers only what a program catches, so importing it stays cheap.
"""

from . import _errors
from ._errors import *  # noqa: F403  (the exception tree, as _errors.__all__ lists it)

__version__ = "0.1.0"

__all__ = ["__version__"]
__all__ += _errors.__all__
