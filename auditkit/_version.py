"""The version of auditkit."""

__version__ = "0.1.0"
