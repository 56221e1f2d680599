"""Write one benchmark's section of benchmarks/RESULTS.md, leaving the others untouched."""

from __future__ import annotations

import fcntl
import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = (
    "# Benchmark results\n\n"
    "Each section is written by the script it names; re-run it to refresh.\n"
)


def machine() -> str:
    """One line describing the machine and library versions."""
    import numpy as np

    parts = [
        platform.processor() or platform.machine(),
        f"{os.cpu_count()} CPUs",
        f"Python {platform.python_version()}",
        f"numpy {np.__version__}",
    ]
    try:
        import torch

        parts.append(f"torch {torch.__version__} threads={torch.get_num_threads()}")
        if torch.cuda.is_available():
            parts.append(torch.cuda.get_device_name(0))
    except ImportError:
        pass
    return ", ".join(parts)


def write_section(name: str, markdown: str) -> None:
    """Replace the ``name`` section of RESULTS.md with ``markdown`` (created when missing)."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{markdown.rstrip()}\n{end}\n"
    with open(RESULTS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = RESULTS.read_text() if RESULTS.exists() else HEADER
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
        text = (
            pattern.sub(lambda _m: block, text)
            if pattern.search(text)
            else text.rstrip() + "\n\n" + block
        )
        RESULTS.write_text(text)
