"""Pulumi resources for the webhook settings of payment providers."""

__version__ = "0.1.0"
