"""A time limit for tests that must fail, not hang (SIGALRM: Unix, main thread)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def time_limit(seconds: int = 60) -> Iterator[None]:
    """Raise ``TimeoutError`` when the body runs longer than ``seconds`` (a hang)."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the call ran past {seconds} s (a hang)")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
