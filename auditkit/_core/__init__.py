"""Stage 1: what every other stage may use and nothing else may be below.

The registry, validation helpers, atomic file writes, progress bars, terminal-safe text, safe
YAML/TOML parsing, the ceilings on inputs, the metric catalog and row selection. Modules here
import only the standard library, numpy and :mod:`auditkit.exceptions`.
"""
