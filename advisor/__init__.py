"""Northbridge advisor: a multi-agent financial advisory system for bank advisors."""

__version__ = "0.1.0"
