"""A small registry from a snake_case name to an object (models, sections, metrics, renderers)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ..exceptions import RegistryKeyError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named mapping filled with the :meth:`register` decorator.

    Parameters
    ----------
    kind : str
        What the registry holds, used in error messages ("model", "section").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, *, override: bool = False) -> Callable[[T], T]:
        """Return a decorator that registers its argument under ``name``."""

        def deco(obj: T) -> T:
            if name in self._items and not override:
                raise ValueError(f"A {self.kind} named {name!r} is already registered.")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; raise :class:`RegistryKeyError` otherwise."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            avail = ", ".join(sorted(self._items))
            close = difflib.get_close_matches(str(name), list(self._items), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RegistryKeyError(
                f"{name!r} is not a registered {self.kind}{hint}. Available: {avail}"
            ) from None

    def names(self) -> list[str]:
        """Return the registered names in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
