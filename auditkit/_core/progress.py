"""Progress bars: quiet in library calls unless ``show_progress=True``; the CLI turns them on."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from .text import visible

T = TypeVar("T")


class _NullBar:
    def update(self, n: int = 1) -> None:
        """Do nothing."""

    def set_postfix_str(self, s: str) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""

    def __enter__(self) -> _NullBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def progress(
    iterable: Iterable[T], *, enabled: bool, desc: str = "", total: int | None = None
) -> Iterator[T]:
    """Iterate over ``iterable`` with a tqdm bar on stderr when ``enabled``."""
    if not enabled:
        yield from iterable
        return
    from tqdm.auto import tqdm

    yield from tqdm(
        iterable, desc=visible(desc, keep_lines=False), total=total, file=sys.stderr, leave=False
    )


def progress_bar(*, enabled: bool, desc: str = "", total: int | None = None) -> Any:
    """Return a manual tqdm bar (``update``/``close``), or a no-op bar when not ``enabled``."""
    if not enabled:
        return _NullBar()
    from tqdm.auto import tqdm

    return tqdm(desc=visible(desc, keep_lines=False), total=total, file=sys.stderr, leave=False)
