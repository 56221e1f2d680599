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


#: Source of :func:`reset_peak` and :func:`peak_kb` for a child process's script. On Linux a
#: child's ``ru_maxrss`` starts from its parent's resident memory at fork (the kernel keeps the
#: high-water mark across exec), so a child started from a large pytest process reports the
#: parent's gigabyte; the child resets its mark first and reads ``VmHWM`` instead.
PEAK_CODE = """
def reset_peak():
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        pass
def peak_kb():
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
reset_peak()
"""

_ns: dict[str, Any] = {}
exec(PEAK_CODE.replace("reset_peak()\n", "", 1).rstrip() + "\n", _ns)  # noqa: S102
#: Forget the peak resident memory so far (Linux; elsewhere a no-op).
reset_peak = _ns["reset_peak"]
#: Peak resident memory in KiB since the last :func:`reset_peak` (``VmHWM``; else ru_maxrss).
peak_kb = _ns["peak_kb"]
