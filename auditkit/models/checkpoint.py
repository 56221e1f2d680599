"""Safe checkpoints: save reference models as plain Lightning ``.ckpt`` files and load them back.

A checkpoint is the dictionary Lightning writes (``state_dict``, ``hyper_parameters``,
``pytorch-lightning_version``, ``epoch``, ``global_step``) plus an ``auditkit`` block of
metadata. Every value is a tensor or plain data (dict, list, str, int, float, bool, None), so
:func:`load_checkpoint` reads it with ``torch.load(weights_only=True)`` and nothing else: a file
carrying a pickled object is refused before any of it runs. The model class comes from
:data:`auditkit.models.MODEL_REGISTRY`, named in the metadata; preprocessing (standardisation
constants, categories, the vocabulary) is stored as numbers and strings.

Because ``hyper_parameters`` holds the constructor's keyword arguments (including the schema
and the preprocessing), Lightning's own ``Model.load_from_checkpoint(path)`` works too.

A downloaded checkpoint is untrusted, so sizes are checked before anything is allocated: the
path must be a regular file (a FIFO, a device or a symbolic link to one is refused at once, never
opened) of at most :data:`MAX_CHECKPOINT_BYTES`; it must be a zip archive (the format
``torch.save`` writes since PyTorch 1.6) whose directory declares at most
:data:`MAX_ZIP_ENTRIES` entries, :data:`MAX_CHECKPOINT_BYTES` in all and no entry compressed
more than :data:`MAX_COMPRESSION_RATIO` times (checked before torch inflates anything); the
metadata must be plain data (no tensors, at most :data:`MAX_METADATA_ITEMS` values, nested at most
:data:`MAX_METADATA_DEPTH` deep); and the model the hyper-parameters describe is first built
without memory (PyTorch's ``meta`` device): it must have at most :data:`MAX_PARAMETERS`
parameters and exactly the weights present in the file, or nothing is allocated for it.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import stat
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core.io import atomic_write_bytes, sha256_bytes
from ..data._schema import DatasetSchema
from ..exceptions import AuditkitError, CheckpointError, OutputError
from .loaded import CheckpointModel, LoadedModel

if TYPE_CHECKING:
    from ._base import AuditableModule

__all__ = [
    "FORMAT_VERSION",
    "CheckpointModel",
    "LoadedModel",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]

#: Version of the ``auditkit`` metadata block this auditkit writes and reads.
FORMAT_VERSION = 1
_REQUIRED = {"model_name": str, "hparams": dict, "preprocessing": dict, "schema": dict}
#: Largest checkpoint file read, and largest total its zip directory may declare (bytes). The
#: reference models take a few MB; this leaves room for much larger models of the same kinds.
MAX_CHECKPOINT_BYTES = 1 << 30
#: Largest ratio of an entry's declared size to its compressed size (``torch.save`` stores
#: entries uncompressed: ratio 1); entries under 1 MiB are not held to it.
MAX_COMPRESSION_RATIO = 20
#: Most parameters (weights and buffers) a model rebuilt from a checkpoint may have: 250 million
#: (1 GB in float32); the reference models have under a few million.
MAX_PARAMETERS = 250_000_000
#: Most entries in a checkpoint's zip archive (one per tensor storage, plus a few).
MAX_ZIP_ENTRIES = 100_000
#: Most values (dict entries, list items, scalars) in a checkpoint's metadata, and how deeply
#: they may nest; the metadata of a reference model holds some thousands (its vocabulary).
MAX_METADATA_ITEMS = 2_000_000
MAX_METADATA_DEPTH = 64
_ZIP_MAGIC = b"PK\x03\x04"
_PLAIN = (str, int, float, bool, type(None))


# ------------------------------------------------------------------------------------ saving
def save_checkpoint(
    module: AuditableModule,
    path: str | os.PathLike[str],
    meta: dict[str, Any],
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``module`` and its metadata as a Lightning-style ``.ckpt`` file, atomically.

    Parameters
    ----------
    module : AuditableModule
        A reference model.
    path : str or path-like
        The file to write (a temporary file in the same folder is renamed over it).
    meta : dict
        The ``auditkit`` metadata block; it must be plain data and include ``format_version``,
        ``model_name``, ``hparams``, ``preprocessing`` and ``schema``.
    overwrite : bool, default=False
        Replace an existing file.

    Returns
    -------
    Path

    Raises
    ------
    OutputError
        When the file exists (without ``overwrite``) or cannot be written.
    TypeError
        When ``meta`` holds something other than plain data.
    """
    import pytorch_lightning as pl
    import torch

    from ._base import to_plain

    target = Path(path)
    if target.exists() and not overwrite:
        raise OutputError(f"Checkpoint {str(target)!r} already exists; pass overwrite=True.")
    info = getattr(module, "fit_info", {}) or {}
    state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    meta = {**meta, "weights_sha256": _state_sha256(state)}
    ckpt = {
        "state_dict": state,
        "hyper_parameters": to_plain(
            {**module.hp, "schema": module.schema_dict, "preprocessing": module.preprocessing},
            where="hyper_parameters",
        ),
        "pytorch-lightning_version": str(pl.__version__),
        "epoch": max(0, int(info.get("epochs_run", 1)) - 1),
        "global_step": int(info.get("global_step", 0)),
        "auditkit": to_plain(meta, where="auditkit metadata"),
    }
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    return atomic_write_bytes(target, buf.getvalue())


# ----------------------------------------------------------------------------------- loading
def _describe_unpickling(exc: BaseException) -> str:
    text = str(exc)
    m = re.search(r"GLOBAL ([\w.]+)", text)
    if m:
        return (
            f"contains a pickled Python object ({m.group(1)}) and was refused: auditkit loads "
            "checkpoints with torch.load(weights_only=True), which accepts only tensors and plain "
            "data, and never runs code from the file"
        )
    m = re.search(r"(Unsupported operand [^\n]*|Unsupported class [^\n]*)", text)
    detail = f" ({m.group(1).strip()})" if m else ""
    return (
        "is not a checkpoint that can be read safely: it is corrupt, or it holds pickle "
        f"instructions that weights-only loading refuses{detail}"
    )


def read_checkpoint(
    path: str | os.PathLike[str], *, map_location: Any = None
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Read a checkpoint safely and validate its metadata, without building the model.

    Returns
    -------
    checkpoint : dict
        The raw dictionary (tensors and plain data).
    meta : dict
        Its ``auditkit`` block.
    sha256 : str
        Hash of the file's bytes.

    Raises
    ------
    CheckpointError
        For a missing, unreadable, truncated or corrupt file, a pickled-object payload, missing
        or invalid metadata, a newer format version or an unknown model name.
    """
    p = Path(path)
    name = str(p)
    data = _read_regular_file(p, name)  # (before importing torch: a bad file is refused at once)
    _check_archive(data, name)
    digest = sha256_bytes(data)
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4" on foreign files
            ckpt = torch.load(
                io.BytesIO(data), map_location=map_location or "cpu", weights_only=True
            )
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"Checkpoint file {name!r} {_describe_unpickling(exc)}.") from None
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, IndexError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"Checkpoint file {name!r} is truncated or corrupt and cannot be read ({first})."
        ) from None
    meta = _validate(ckpt, name)
    return ckpt, meta, digest


def _read_regular_file(p: Path, name: str) -> bytes:
    """Return the bytes of the regular file ``p``, refusing anything else before reading.

    ``os.stat`` follows symbolic links, so a link to ``/dev/zero`` or to a FIFO is judged by
    what it points to; the file is opened without blocking (a FIFO swapped in meanwhile
    cannot hang the open) and checked again on the open descriptor.
    """
    from .._core.io import check_regular_file, describe_file_type

    check_regular_file(p, "Checkpoint file", error=CheckpointError)
    st = os.stat(p)
    _check_file_size(st.st_size, name)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise CheckpointError(
                    f"Checkpoint path {name!r} is {describe_file_type(st.st_mode)}, not a "
                    "regular file; auditkit reads checkpoints only from regular files."
                )
            _check_file_size(st.st_size, name)
            data = fh.read(MAX_CHECKPOINT_BYTES + 1)
    except OSError as exc:
        raise CheckpointError(
            f"Cannot read checkpoint file {name!r}: {exc.strerror or exc}."
        ) from exc
    _check_file_size(len(data), name)
    if not data:
        raise CheckpointError(f"Checkpoint file {name!r} is empty.")
    return data


def _check_file_size(size: int, name: str) -> None:
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            f"Checkpoint file {name!r} is {size:,} bytes, over auditkit's ceiling of "
            f"{MAX_CHECKPOINT_BYTES:,} bytes (auditkit.models.checkpoint.MAX_CHECKPOINT_BYTES)."
        )


def _check_archive(data: bytes, name: str) -> None:
    """Refuse a file that is not a zip archive, or whose directory declares too much.

    Only the zip directory is read (names, declared sizes): nothing is inflated here, and torch
    inflates nothing that passed, beyond what was declared (it sizes its buffers from the
    directory).
    """
    if not data.startswith(_ZIP_MAGIC):
        raise CheckpointError(
            f"Checkpoint file {name!r} is not a zip-format PyTorch checkpoint (the format "
            "torch.save writes since PyTorch 1.6): auditkit does not read the legacy format or "
            "raw pickles, whose headers can claim any amount of memory."
        )
    entries = _zip_entry_count(data)
    if entries is not None and entries > MAX_ZIP_ENTRIES:
        raise CheckpointError(
            f"Checkpoint file {name!r} declares {entries:,} zip entries, over auditkit's "
            f"ceiling of {MAX_ZIP_ENTRIES:,} (auditkit.models.checkpoint.MAX_ZIP_ENTRIES)."
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        ValueError,
        OSError,
        EOFError,
    ) as exc:  # (NotImplementedError: a damaged header claiming "zip file version 16.2")
        raise CheckpointError(
            f"Checkpoint file {name!r} is truncated or corrupt and cannot be read ({exc})."
        ) from None
    total = 0
    for info in infos:
        size, packed = int(info.file_size), int(info.compress_size)
        total += size
        if size > MAX_CHECKPOINT_BYTES or total > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(
                f"Checkpoint file {name!r} declares {max(size, total):,} bytes of content "
                f"({info.filename!r}), over auditkit's ceiling of {MAX_CHECKPOINT_BYTES:,} "
                "bytes; nothing was decompressed."
            )
        if size > (1 << 20) and size > MAX_COMPRESSION_RATIO * max(packed, 1):
            raise CheckpointError(
                f"Checkpoint file {name!r} holds {info.filename!r}, compressed "
                f"{size / max(packed, 1):,.0f} times ({packed:,} bytes that would inflate to "
                f"{size:,}); auditkit refuses entries compressed over {MAX_COMPRESSION_RATIO} "
                "times (torch.save stores them uncompressed). Nothing was decompressed."
            )


def _zip_entry_count(data: bytes) -> int | None:
    """Return the number of entries the zip's end record declares (zip64 too), before parsing.

    None when no end record is found (:mod:`zipfile` then reports the archive as corrupt).
    """
    import struct

    tail_start = max(0, len(data) - (1 << 16) - 22)
    i = data.rfind(b"PK\x05\x06", tail_start)
    if i < 0 or len(data) - i < 22:
        return None
    count = int(struct.unpack_from("<H", data, i + 10)[0])
    if count != 0xFFFF:
        return count
    j = i - 20  # the zip64 end-record locator sits just before the end record
    if j < 0 or data[j : j + 4] != b"PK\x06\x07":
        return count
    (offset,) = struct.unpack_from("<Q", data, j + 8)
    if offset + 56 > len(data) or data[offset : offset + 4] != b"PK\x06\x06":
        return count
    return int(struct.unpack_from("<Q", data, offset + 32)[0])


def _check_plain_metadata(ckpt: dict[str, Any], name: str) -> None:
    """Refuse tensors or other objects in the metadata; bound its size and depth.

    Everything but the ``state_dict`` is walked (iteratively, so depth costs no recursion); a
    value shared many times (pickle's memo) counts each time it is reached, so a small file
    that references one list a billion times is refused rather than expanded by a reader.
    """
    import torch

    budget = MAX_METADATA_ITEMS
    stack: list[tuple[Any, str, int]] = [
        (v, str(k), 1) for k, v in ckpt.items() if k != "state_dict"
    ]
    while stack:
        obj, where, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise CheckpointError(
                f"Checkpoint file {name!r} has metadata of more than {MAX_METADATA_ITEMS:,} "
                "values (auditkit.models.checkpoint.MAX_METADATA_ITEMS); it was refused."
            )
        if depth > MAX_METADATA_DEPTH:
            raise CheckpointError(
                f"Checkpoint file {name!r} has invalid metadata: {where} is nested more than "
                f"{MAX_METADATA_DEPTH} levels deep."
            )
        if isinstance(obj, _PLAIN):
            continue
        if isinstance(obj, torch.Tensor):
            raise CheckpointError(
                f"Checkpoint file {name!r} has a tensor in its metadata ({where}, shape "
                f"{tuple(obj.shape)}); tensors belong in the state_dict, metadata is plain "
                "data (numbers, strings, lists, dicts)."
            )
        if isinstance(obj, dict):
            for k, v in obj.items():
                if not isinstance(k, (str, int)):
                    raise CheckpointError(
                        f"Checkpoint file {name!r} has invalid metadata: {where} has a key "
                        f"of type {type(k).__name__}."
                    )
                stack.append((v, f"{where}[{k!r}]" if len(where) < 200 else where, depth + 1))
        elif isinstance(obj, (list, tuple)):
            stack.extend(
                (v, f"{where}[{i}]" if len(where) < 200 else where, depth + 1)
                for i, v in enumerate(obj)
            )
        else:
            raise CheckpointError(
                f"Checkpoint file {name!r} has invalid metadata: {where} is a "
                f"{type(obj).__name__}, not plain data."
            )


def _check_weights_present(sd: dict[str, Any], name: str) -> None:
    """Refuse weights whose bytes are not in the file (views such as stride-0 expansions).

    A tensor may view a storage far smaller than its shape (stride 0 repeats one number a
    billion times); copying it into a model would allocate what the file never held.
    ``save_checkpoint`` writes every weight whole, in its own storage.
    """
    seen: dict[int, int] = {}
    claimed = 0
    for key, t in sd.items():
        need = int(t.numel()) * int(t.element_size())
        storage = t.untyped_storage()
        have = int(storage.nbytes()) - int(t.storage_offset()) * int(t.element_size())
        if need > have:
            raise CheckpointError(
                f"Checkpoint file {name!r}: weight {str(key)[:100]!r} of shape "
                f"{tuple(t.shape)} claims {need:,} bytes but the file holds {max(have, 0):,} "
                "for it (a strided view, such as a stride-0 expansion); weights must be "
                "stored whole."
            )
        seen[int(storage.data_ptr())] = int(storage.nbytes())
        claimed += need
    if claimed > sum(seen.values()):
        raise CheckpointError(
            f"Checkpoint file {name!r}: its weights claim {claimed:,} bytes but share "
            f"{sum(seen.values()):,} bytes of storage; weights must be stored whole."
        )


_HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy")
#: A regression model's learning curves have losses (and RMSEs), no accuracy.
_REGRESSION_HISTORY_KEYS = ("epoch", "train_loss", "val_loss")
_OPTIONAL_BLOCKS = ("dataset", "test_metrics", "training", "hardware", "versions", "dp")


def _is_regression(meta: dict[str, Any]) -> bool:
    """Whether the metadata says regression, or names a registered regression model."""
    from . import MODEL_REGISTRY

    if meta.get("task") == "regression":
        return True
    name = meta.get("model_name")
    if not isinstance(name, str) or name not in MODEL_REGISTRY:
        return False
    return MODEL_REGISTRY.get(name).task == "regression"


def _check_optional_metadata(meta: dict[str, Any], name: str) -> None:
    """Refuse a malformed ``history`` or an optional block that is not a dict."""
    for key in _OPTIONAL_BLOCKS:
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise CheckpointError(
                f"Checkpoint file {name!r} has invalid auditkit metadata: {key!r} is a "
                f"{type(meta[key]).__name__}, expected a dict."
            )
    history = meta.get("history")
    if history is None:
        return
    if not isinstance(history, list):
        raise CheckpointError(
            f"Checkpoint file {name!r} has invalid auditkit metadata: 'history' is a "
            f"{type(history).__name__}, expected a list of per-epoch records."
        )
    keys = _REGRESSION_HISTORY_KEYS if _is_regression(meta) else _HISTORY_KEYS
    for i, row in enumerate(history):
        if not isinstance(row, dict):
            raise CheckpointError(
                f"Checkpoint file {name!r} has invalid auditkit metadata: history[{i}] is a "
                f"{type(row).__name__}, expected a dict with {', '.join(keys)}."
            )
        for key in keys:
            value = row.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                got = "missing" if key not in row else f"{type(value).__name__} {value!r}"[:80]
                raise CheckpointError(
                    f"Checkpoint file {name!r} has invalid auditkit metadata: "
                    f"history[{i}][{key!r}] is {got}, expected a number."
                )


def _validate(ckpt: Any, name: str) -> dict[str, Any]:
    import torch

    if not isinstance(ckpt, dict):
        raise CheckpointError(
            f"Checkpoint file {name!r} holds a {type(ckpt).__name__}, not a Lightning checkpoint "
            "dictionary."
        )
    meta = ckpt.get("auditkit")
    if meta is None:
        raise CheckpointError(
            f"Checkpoint file {name!r} has no auditkit metadata; it was not written by "
            "auditkit.train (train a reference model with `auditkit train NAME --out FILE`)."
        )
    if not isinstance(meta, dict):
        raise CheckpointError(f"Checkpoint file {name!r} has invalid auditkit metadata.")
    _check_plain_metadata(ckpt, name)
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(
            f"Checkpoint file {name!r} has invalid auditkit metadata: format_version is "
            f"{version!r}, expected a positive int."
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"Checkpoint file {name!r} was written by a newer auditkit (format version "
            f"{version}; this auditkit reads up to {FORMAT_VERSION}). Upgrade auditkit to load it."
        )
    for key, typ in _REQUIRED.items():
        if not isinstance(meta.get(key), typ):
            got = "missing" if key not in meta else f"a {type(meta[key]).__name__}"
            raise CheckpointError(
                f"Checkpoint file {name!r} has invalid auditkit metadata: {key!r} is {got}, "
                f"expected a {typ.__name__}."
            )
    sd = ckpt.get("state_dict")
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(
            f"Checkpoint file {name!r} has no valid 'state_dict' (a dict of tensors)."
        )
    _check_weights_present(sd, name)
    _check_optional_metadata(meta, name)
    try:
        DatasetSchema.from_dict(meta["schema"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"Checkpoint file {name!r} has invalid auditkit metadata: the schema cannot be read "
            f"({type(exc).__name__}: {exc})."
        ) from None
    from . import MODEL_REGISTRY

    if meta["model_name"] not in MODEL_REGISTRY:
        raise CheckpointError(
            f"Checkpoint file {name!r} names the model {meta['model_name']!r}, which is not a "
            f"registered model. Available: {', '.join(sorted(MODEL_REGISTRY.names()))}."
        )
    task = meta.get("task", "classification")
    expected = MODEL_REGISTRY.get(meta["model_name"]).task
    if task != expected:
        raise CheckpointError(
            f"Checkpoint file {name!r} has invalid auditkit metadata: its task is {task!r} but "
            f"{meta['model_name']} is a {expected} model."
        )
    return meta


def load_checkpoint(path: str | os.PathLike[str], *, map_location: Any = None) -> LoadedModel:
    """Load a reference-model checkpoint safely.

    Only ``torch.load(weights_only=True)`` touches the file: tensors and plain data are read, a
    pickled object is refused and never runs. The model class is looked up in the registry by
    the name in the metadata and rebuilt from the stored hyper-parameters and preprocessing.

    Parameters
    ----------
    path : str or path-like
        A ``.ckpt`` file written by :func:`auditkit.train` (or ``auditkit train``).
    map_location : str or torch.device, default=None
        Where to put the weights; by default the CPU (always available, and bit-reproducible).
        Pass ``"cuda"`` to load onto the GPU.

    Returns
    -------
    LoadedModel
        The model in eval mode with its metadata; ``predict_proba`` accepts the dataset's raw
        inputs.

    Raises
    ------
    CheckpointError
        Naming the file: when it is missing, truncated or corrupt, carries a pickled object,
        lacks valid auditkit metadata, was written by a newer auditkit, names an unknown model,
        or holds weights whose shapes do not match the model.

    Examples
    --------
    >>> import auditkit
    >>> from auditkit.data import load_dataset
    >>> model = auditkit.load_checkpoint("adult.ckpt")  # doctest: +SKIP
    >>> model.predict_proba(load_dataset("adult").test.X).shape  # doctest: +SKIP
    (16281, 2)
    """
    ckpt, meta, digest = read_checkpoint(path, map_location=map_location)
    import torch

    from . import MODEL_REGISTRY

    name = str(Path(path))
    cls = MODEL_REGISTRY.get(meta["model_name"])
    with torch.device("meta"):  # shapes only: no memory for the weights yet
        skeleton = _build(cls, meta, name)
    _check_architecture(ckpt["state_dict"], skeleton, meta, name)
    del skeleton
    module = _build(cls, meta, name)
    _check_weights(ckpt["state_dict"], module, meta, name)
    try:
        module.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise CheckpointError(
            f"Checkpoint file {name!r}: the stored weights do not match the "
            f"{meta['model_name']} architecture ({detail})."
        ) from None
    _check_digest(ckpt["state_dict"], meta, name)
    if map_location is not None:
        module.to(torch.device(map_location) if isinstance(map_location, str) else map_location)
    module.eval()
    return LoadedModel(module, meta, path=Path(path), sha256=digest)


def _build(cls: Any, meta: dict[str, Any], name: str) -> Any:
    """Construct the registered model from the metadata; errors name the file."""
    try:
        return cls(schema=meta["schema"], preprocessing=meta["preprocessing"], **meta["hparams"])
    except RecursionError:
        raise CheckpointError(
            f"Checkpoint file {name!r} has invalid auditkit metadata for {meta['model_name']}: "
            "it is nested too deeply."
        ) from None
    except (AuditkitError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise CheckpointError(
            f"Checkpoint file {name!r} has invalid auditkit metadata for {meta['model_name']}: "
            f"{exc}"
        ) from None


def _check_architecture(state: Any, skeleton: Any, meta: dict[str, Any], name: str) -> None:
    """Compare the model the metadata describes (built on the meta device) with the weights.

    Refuses, before any weight of the model is allocated, a model over :data:`MAX_PARAMETERS`
    and one whose weights (names and shapes) are not exactly those stored in the file: the
    memory a checkpoint can make auditkit allocate is that of the weights it really holds.
    """
    expected = skeleton.state_dict()
    n_params = sum(int(t.numel()) for t in expected.values())
    model = meta["model_name"]
    if n_params > MAX_PARAMETERS:
        raise CheckpointError(
            f"Checkpoint file {name!r}: its hyper-parameters describe a {model} of "
            f"{n_params:,} parameters, over auditkit's ceiling of {MAX_PARAMETERS:,} "
            "(auditkit.models.checkpoint.MAX_PARAMETERS); nothing was allocated for it."
        )
    problem = None
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing:
        problem = f"missing weight {missing[0]!r}" + (
            f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        )
    elif unexpected:
        problem = f"unexpected weight {str(unexpected[0])[:100]!r}" + (
            f" and {len(unexpected) - 1} more" if len(unexpected) > 1 else ""
        )
    else:
        for key, want in expected.items():
            got = tuple(state[key].shape)
            if got != tuple(want.shape):
                problem = (
                    f"size mismatch for {key}: the file holds shape {got}, the "
                    f"hyper-parameters describe {tuple(want.shape)}"
                )
                break
    if problem is not None:
        raise CheckpointError(
            f"Checkpoint file {name!r}: the stored weights do not match the {model} "
            f"architecture its metadata describes ({problem}); nothing was allocated for it."
        )


def _state_sha256(state: Any) -> str:
    """Hash a state dict: every key, dtype, shape and the tensor bytes, in sorted key order."""
    import hashlib

    import torch

    h = hashlib.sha256()
    for key in sorted(state):
        value = state[key].detach().cpu().contiguous()
        h.update(f"{key}|{value.dtype}|{tuple(value.shape)}|".encode())
        if value.numel():
            h.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _check_digest(state: Any, meta: dict[str, Any], name: str) -> None:
    """Refuse weights that changed after saving (the digest written by :func:`save_checkpoint`)."""
    stored = meta.get("weights_sha256")
    if stored is not None and stored != _state_sha256(state):
        raise CheckpointError(
            f"Checkpoint file {name!r}: the weights do not match the digest recorded when the "
            "checkpoint was saved (they were edited or damaged after saving)."
        )


def _check_weights(state: Any, module: Any, meta: dict[str, Any], name: str) -> None:
    """Refuse a state dict that is not all tensors, or whose dtypes differ from the model's."""
    import torch

    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"Checkpoint file {name!r}: the state_dict does not hold tensors.")
    expected = module.state_dict()
    for key, value in state.items():
        want = expected.get(key)
        if want is not None and value.dtype != want.dtype:
            raise CheckpointError(
                f"Checkpoint file {name!r}: weight {key!r} is stored as {value.dtype} but the "
                f"{meta['model_name']} architecture expects {want.dtype}."
            )
