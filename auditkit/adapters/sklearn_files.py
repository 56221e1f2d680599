"""Saved scikit-learn models: skops files (safe) and pickle / joblib files (only when allowed).

:func:`load_skops` opens a ``.skops`` file with skops' safe loader: before anything is built, the
types the file would create are listed, and only scikit-learn, numpy and scipy types (plus those
the caller trusts by name) are accepted. :func:`load_pickle` refuses ``.pkl`` / ``.joblib`` files
unless ``allow_pickle=True``, because unpickling runs code chosen by whoever wrote the file; with
it, the model loads and its ``describe()`` says that it was unpickled.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..data._schema import DatasetSchema
from ._files import file_sha256
from .errors import ModelFileError, UnsafeModelError, missing_dependency
from .sklearn import SklearnModel

__all__ = [
    "PICKLE_SUFFIXES",
    "SAFE_TYPE_ROOTS",
    "SavedSklearnModel",
    "load_pickle",
    "load_skops",
]

#: Top-level packages whose types a skops file may create without being trusted by name.
SAFE_TYPE_ROOTS = ("sklearn", "numpy", "scipy")
#: File suffixes read by unpickling.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")

PICKLE_REFUSED = (
    "{path} is a pickle file: loading it runs code chosen by whoever wrote the file, with your "
    "permissions, before auditkit sees the model. Re-save it with skops (skops.io.dump) and "
    "audit the .skops file, or, only if you trust its author, pass --allow-pickle "
    "(allow_pickle=True in Python); the card will say that the file was unpickled."
)
UNTRUSTED_TYPES = (
    "{path} would create types that are not scikit-learn, numpy or scipy: {types}. Loading "
    "them runs their code. If you trust them, name them: --trust {joined} (trusted=[...] in "
    "Python)."
)


class SavedSklearnModel(SklearnModel):
    """A scikit-learn estimator loaded from a file, with where it came from.

    Attributes
    ----------
    path : Path
        The file the estimator was read from.
    file_sha256 : str
        Hash of the file's bytes.
    file_format : {"skops", "pickle", "joblib"}
        How the file was read.
    unpickled : bool
        True when the file was read by unpickling (code from the file ran).
    trusted : list of str
        The types trusted by name when a skops file was loaded.
    """

    def __init__(
        self,
        est: Any,
        *,
        path: Path,
        file_sha256: str,
        file_format: str,
        unpickled: bool,
        trusted: Iterable[str] = (),
        schema: DatasetSchema | None = None,
    ) -> None:
        super().__init__(est, schema=schema)
        self.path = path
        self.file_sha256 = file_sha256
        self.file_format = file_format
        self.unpickled = unpickled
        self.trusted = sorted(trusted)

    def describe(self) -> dict[str, Any]:
        """Return the estimator's description plus the file, its hash and how it was read."""
        d = super().describe()
        d.update(
            path=str(self.path),
            file_sha256=self.file_sha256,
            file_format=self.file_format,
            unpickled=self.unpickled,
        )
        if self.trusted:
            d["trusted_types"] = list(self.trusted)
        return d


def _file(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(os.fsdecode(path))
    if not p.is_file():
        raise ModelFileError(f"{what} {p} not found (no such file).")
    return p


def _is_safe_type(name: str, trusted: set[str]) -> bool:
    return name in trusted or name.split(".", 1)[0] in SAFE_TYPE_ROOTS


def _check_estimator(est: Any, path: Path) -> None:
    if not hasattr(est, "fit") or not (
        hasattr(est, "predict_proba") or hasattr(est, "decision_function")
        or hasattr(est, "predict")
    ):  # fmt: skip
        raise ModelFileError(
            f"{path} holds a {type(est).__name__}, not a fitted scikit-learn estimator or "
            "pipeline (an object with fit and predict_proba, decision_function or predict)."
        )


def _trusted_names(trusted: str | Iterable[str]) -> set[str]:
    if isinstance(trusted, str):
        trusted = trusted.split(",")
    return {t.strip() for t in trusted if t.strip()}


def load_skops(
    path: str | os.PathLike[str],
    trusted: str | Iterable[str] = (),
    *,
    schema: DatasetSchema | None = None,
) -> SavedSklearnModel:
    """Load a scikit-learn model saved with ``skops.io.dump``, without running untrusted code.

    Parameters
    ----------
    path : str or path-like
        The ``.skops`` file.
    trusted : str or iterable of str, default=()
        Fully qualified type names to trust besides scikit-learn, numpy and scipy types (a
        comma-separated string, as ``--trust`` takes, or a list).
    schema : DatasetSchema, default=None
        Feature schema, when known.

    Returns
    -------
    SavedSklearnModel

    Raises
    ------
    UnsafeModelError
        When the file would create types outside scikit-learn, numpy and scipy that are not
        trusted; the message lists them and the ``--trust`` value that accepts them.
    ModelFileError
        When the file is missing, not a skops file, or holds no estimator.
    """
    p = _file(path, "skops file")
    try:
        import skops.io as sio
    except ImportError as exc:
        raise missing_dependency("skops", "skops", f"the skops file {p}") from exc
    names = _trusted_names(trusted)
    try:
        found = sorted(sio.get_untrusted_types(file=p))
    except Exception as exc:  # noqa: BLE001 - a zip or schema error from skops
        raise ModelFileError(f"{p} is not a readable skops file: {exc}") from exc
    refused = [t for t in found if not _is_safe_type(t, names)]
    if refused:
        raise UnsafeModelError(
            UNTRUSTED_TYPES.format(
                path=p, types=", ".join(refused), joined=",".join(sorted({*names, *refused}))
            )
        )
    try:
        est = sio.load(p, trusted=found)
    except Exception as exc:  # noqa: BLE001 - skops raises plain exceptions
        raise ModelFileError(f"{p} could not be loaded by skops: {exc}") from exc
    _check_estimator(est, p)
    return SavedSklearnModel(
        est, path=p, file_sha256=file_sha256(p), file_format="skops", unpickled=False,
        trusted=[t for t in found if t in names], schema=schema,
    )  # fmt: skip


def load_pickle(
    path: str | os.PathLike[str],
    *,
    allow_pickle: bool = False,
    schema: DatasetSchema | None = None,
) -> SavedSklearnModel:
    """Load a pickled scikit-learn model, only when the caller allows unpickling.

    Parameters
    ----------
    path : str or path-like
        A ``.pkl``, ``.pickle`` or ``.joblib`` file.
    allow_pickle : bool, default=False
        Unpickle the file (with joblib when it is installed, else pickle). Unpickling runs code
        chosen by the file's author; without this flag the file is not opened at all.
    schema : DatasetSchema, default=None
        Feature schema, when known.

    Returns
    -------
    SavedSklearnModel
        With ``unpickled=True``; its ``describe()`` says so in the result's ``model`` block.

    Raises
    ------
    UnsafeModelError
        Without ``allow_pickle`` (the file is not read).
    ModelFileError
        When the file is missing, cannot be unpickled, or holds no estimator.
    """
    if allow_pickle is not True:
        raise UnsafeModelError(PICKLE_REFUSED.format(path=os.fsdecode(path)))
    p = _file(path, "pickle file")
    digest = file_sha256(p)  # of the bytes about to be unpickled
    try:
        import joblib
    except ImportError:  # pragma: no cover - joblib comes with scikit-learn
        joblib = None
    try:
        if joblib is not None:
            est, how = joblib.load(p), "joblib"
        else:  # pragma: no cover
            import pickle

            with p.open("rb") as fh:
                est, how = pickle.load(fh), "pickle"  # noqa: S301 - allowed by the caller
    except Exception as exc:  # noqa: BLE001 - anything unpickling raises
        raise ModelFileError(f"{p} could not be unpickled: {type(exc).__name__}: {exc}") from exc
    _check_estimator(est, p)
    return SavedSklearnModel(
        est, path=p, file_sha256=digest, file_format=how, unpickled=True, schema=schema
    )
