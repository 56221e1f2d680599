"""Typed section options: each section declares its options, and ``audit`` checks them up front.

``audit(..., options={...})`` takes one flat mapping (``{"cv": 3, "explain_method": "saliency"}``).
Each section declares the options it reads as a frozen dataclass whose fields carry their type,
default, range and documentation (:func:`option`), and registers it with :func:`register`.
:func:`validate_options` checks a user's mapping against every registered field before any model
is scored: an unknown key is refused with the known ones and the closest match, a value of the
wrong type or out of range with the option's name. A section reads its options, typed and with
defaults filled in, through :meth:`auditkit.inputs.context.AuditContext.options_for`.

Example
-------
>>> @dataclasses.dataclass(frozen=True)
... class FoldOptions(SectionOptions):
...     cv: int = option(5, doc="Folds of cross-validation.", low=2, high=100)
>>> register(FoldOptions)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from .._core.validation import did_you_mean, format_available
from ..exceptions import ParameterError

__all__ = [
    "CommonOptions",
    "OptionSpec",
    "SectionOptions",
    "known_options",
    "option",
    "register",
    "validate_options",
]

_META = "auditkit_option"
T = TypeVar("T", bound="SectionOptions")


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """What one option accepts.

    Attributes
    ----------
    name : str
        The key in ``options``.
    kind : {"bool", "int", "float", "str", "str_list", "int_list", "any"}
        The accepted type; ints are accepted for floats, never bools for numbers.
    default : object
        The value when the key is absent (None: the section decides, as documented).
    doc : str
        One sentence for the README and the error messages.
    low, high : float or None
        Inclusive bounds for numbers.
    choices : tuple of str or None
        The accepted strings.
    nullable : bool
        Whether None is accepted.
    owners : tuple of str
        The sections (or ``"audit"``) that read it.
    """

    name: str
    kind: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    nullable: bool = False
    owners: tuple[str, ...] = ()

    def describe(self) -> str:
        """Return the accepted values in words (for messages and the README)."""
        words = {
            "bool": "True or False",
            "int": "an integer",
            "float": "a number",
            "str": "a string",
            "str_list": "a list of strings",
            "int_list": "a list of integers",
            "any": "a value",
        }[self.kind]
        if self.choices:
            words = "one of " + ", ".join(repr(c) for c in self.choices)
        if self.low is not None and self.high is not None:
            words += f" in [{self.low:g}, {self.high:g}]"
        elif self.low is not None:
            words += f" >= {self.low:g}"
        elif self.high is not None:
            words += f" <= {self.high:g}"
        if self.nullable:
            words += " or None"
        return words

    def check(self, value: Any, *, func: str) -> Any:
        """Return ``value`` converted to the option's type, or raise :class:`ParameterError`."""
        if value is None and (self.nullable or self.default is None):
            return None
        ok, out = _convert(self.kind, value)
        if ok and self.choices is not None:
            ok = out in self.choices
        if ok and isinstance(out, (int, float)) and not isinstance(out, bool):
            ok = (self.low is None or out >= self.low) and (self.high is None or out <= self.high)
        if not ok:
            raise ParameterError(
                f"The option {self.name!r} of {func} must be {self.describe()}; got {value!r} "
                f"instead. {self.doc}"
            )
        return out


def _convert(kind: str, value: Any) -> tuple[bool, Any]:
    import numbers

    if kind == "any":
        return True, value
    if kind == "bool":
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            return True, bool(value)
        return False, value
    if isinstance(value, bool):
        return False, value
    if kind == "int":
        if isinstance(value, numbers.Integral):
            return True, int(value)
        return False, value
    if kind == "float":
        if isinstance(value, numbers.Real) and math.isfinite(float(value)):
            return True, float(value)
        return False, value
    if kind == "str":
        return isinstance(value, str), value
    if kind in ("str_list", "int_list"):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            return False, value
        want = str if kind == "str_list" else numbers.Integral
        items = list(value)
        if not all(isinstance(v, want) and not isinstance(v, bool) for v in items):
            return False, value
        return True, tuple(int(v) for v in items) if kind == "int_list" else tuple(items)
    raise ValueError(f"unknown option kind {kind!r}")  # pragma: no cover - programming error


def option(
    default: Any,
    *,
    doc: str,
    kind: str | None = None,
    low: float | None = None,
    high: float | None = None,
    choices: Sequence[str] | None = None,
    nullable: bool = False,
) -> Any:
    """Declare one option as a dataclass field (the field's name is the option's key).

    ``kind`` is inferred from ``default`` when it is a bool, int, float or str; give it for a
    None default or a list.
    """
    if kind is None:
        for t, k in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
            if isinstance(default, t):
                kind = k
                break
        else:
            raise TypeError("option(): give kind= for a default that is not bool/int/float/str")
    meta = {
        "kind": kind,
        "doc": doc,
        "low": low,
        "high": high,
        "choices": tuple(choices) if choices is not None else None,
        "nullable": nullable,
    }
    if isinstance(default, (list, dict, set)):
        raise TypeError("option(): a mutable default is not allowed; use a tuple")
    return dataclasses.field(default=default, metadata={_META: meta})


@dataclasses.dataclass(frozen=True)
class SectionOptions:
    """Base of the options dataclass each section declares (fields made with :func:`option`)."""

    #: The section (or ``"audit"``) that reads these options; set by the subclass.
    owner = "audit"

    def __post_init__(self) -> None:
        # Checked again when built, so a context made without ``audit`` (for example by
        # auditkit.testing.make_context) never gives a section an unchecked value.
        for spec in self.specs():
            object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name), func="audit"))

    @classmethod
    def specs(cls) -> list[OptionSpec]:
        """Return one :class:`OptionSpec` per field."""
        out = []
        for f in dataclasses.fields(cls):
            meta = f.metadata.get(_META)
            if meta is None:
                continue
            out.append(OptionSpec(name=f.name, default=f.default, owners=(cls.owner,), **meta))
        return out

    @classmethod
    def from_options(cls: type[T], options: Mapping[str, Any]) -> T:
        """Build the dataclass from an already validated flat mapping (defaults filled in)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in names})


_REGISTRY: dict[str, OptionSpec] = {}
_CLASSES: list[type[SectionOptions]] = []


def register(cls: type[T]) -> type[T]:
    """Register an options dataclass (usable as a decorator); a shared key must agree."""
    for spec in cls.specs():
        old = _REGISTRY.get(spec.name)
        if old is not None:
            same = dataclasses.replace(old, owners=spec.owners)
            if same != spec:
                raise TypeError(f"option {spec.name!r} is declared twice, differently")
            if cls.owner not in old.owners:
                _REGISTRY[spec.name] = dataclasses.replace(old, owners=old.owners + spec.owners)
            continue
        _REGISTRY[spec.name] = spec
    if cls not in _CLASSES:
        _CLASSES.append(cls)
    return cls


def known_options() -> dict[str, OptionSpec]:
    """Return every registered option by name (sorted), for messages and the README."""
    return dict(sorted(_REGISTRY.items()))


def validate_options(options: Mapping[str, Any] | None, *, func: str = "audit") -> dict[str, Any]:
    """Return ``options`` checked and converted; raise :class:`ParameterError` on any bad key.

    Only the keys given are returned (defaults stay with the dataclasses). The registry holds the
    options of the sections imported so far; the public functions import every section first.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ParameterError(
            f"The 'options' parameter of {func} must be a mapping of option names to values; "
            f"got {type(options).__name__}."
        )
    known = known_options()
    out: dict[str, Any] = {}
    for key, value in options.items():
        if not isinstance(key, str) or key not in known:
            raise ParameterError(
                f"Unknown option {key!r} for {func}{did_you_mean(str(key), list(known))}. "
                f"Known options: {format_available(list(known), limit=100)}."
            )
        out[key] = known[key].check(value, func=func)
    return out


@register
@dataclasses.dataclass(frozen=True)
class CommonOptions(SectionOptions):
    """Options read by more than one section (declared once, here)."""

    owner = "fairness, stability"

    four_fifths_threshold: float = option(
        0.8,
        doc="The favourable-impact ratio under which a group fails the four-fifths rule.",
        low=0.0,
        high=1.0,
    )
    subject: str = option(
        "people", doc="The word the card uses for the rows (for example 'applicants')."
    )
