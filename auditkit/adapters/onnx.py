"""ONNX models run by onnxruntime: tables (one float input, or one input per column) and images.

skl2onnx writes a classifier with the inputs it was given (``float_input`` of shape
``(None, n_features)``, or one ``(None, 1)`` input per column of a pipeline with a
``ColumnTransformer``) and two outputs: ``output_label`` and ``output_probability``, the latter
either a list of ``{class: probability}`` dicts (its ``ZipMap`` option, the default) or a
``(n, n_classes)`` tensor. Image models exported from torch take one ``NCHW`` float input and
return logits. :class:`OnnxModel` feeds each kind in batches and returns probabilities; it has
no gradients, so :meth:`~OnnxModel.torch_parts` is None and explanations use perturbation
methods.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..data._schema import DatasetSchema
from ..exceptions import DataValidationError, ParameterError
from ._files import file_sha256
from .base import ModelAdapter, Task, check_task
from .errors import ModelFileError, missing_dependency
from .torch import _as_float32

__all__ = ["OnnxModel", "load_onnx"]

#: numpy dtype fed to each onnxruntime input type.
_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}
#: Output names that hold probabilities (skl2onnx, and common exports).
_PROBA_NAMES = ("output_probability", "probabilities", "probability", "proba", "probs")
#: Attributes of the ai.onnx.ml classifier nodes that list the class labels.
_CLASS_ATTRS = ("classlabels_ints", "classlabels_int64s", "classlabels_strings")

Mode = Literal["matrix", "columns", "image"]


def _fixed(dim: Any) -> int | None:
    return int(dim) if isinstance(dim, int) and dim > 0 else None


class OnnxModel(ModelAdapter):
    """An onnxruntime ``InferenceSession`` of a classifier.

    Parameters
    ----------
    session : onnxruntime.InferenceSession
    features : sequence of str, default=None
        For a model with one 2-d input: the table's columns fed to it, in order (default: every
        column of the table). Ignored for images and per-column inputs.
    input_map : mapping of str to str, default=None
        For a model with one input per column: graph input name -> table column (default: the
        column of the input's own name).
    output : {"auto", "proba", "log_proba", "logits"}, default="auto"
        What the chosen output holds. ``"auto"``: probabilities for a ``ZipMap`` output or one
        named like ``output_probability``, logits otherwise (softmax; sigmoid for one column);
        :func:`load_onnx` also reads the graph: an output computed by ``Softmax`` or
        ``Sigmoid`` holds probabilities, by ``LogSoftmax`` log-probabilities. One column of
        probabilities is the positive class's.
    classes : sequence, default=None
        Class labels in the order of the probability columns (read from the graph by
        :func:`load_onnx`).
    batch_size : int, default=None
        Rows per ``session.run`` (default: 8192 for tables, 64 for images; a fixed batch
        dimension in the graph wins).
    path : path-like, default=None
        The file the session was read from (for ``describe`` and the hash).
    schema : DatasetSchema, default=None
    task : {"classification", "regression"}, default="classification"
        What the chosen output holds: scores of classes, or (a regression) one number per row,
        returned as it is. :func:`load_onnx` reads it from the graph (a scikit-learn regressor
        exported by skl2onnx ends in a ``*Regressor`` node).

    Attributes
    ----------
    mode : {"matrix", "columns", "image"}
        How inputs are fed: one 2-d float matrix, one input per column, or one NCHW tensor.
    """

    kind = "onnx"
    can_regress = True

    def __init__(
        self,
        session: Any,
        *,
        features: Sequence[str] | None = None,
        input_map: Mapping[str, str] | None = None,
        output: Literal["auto", "proba", "log_proba", "logits"] = "auto",
        classes: Sequence[Any] | None = None,
        batch_size: int | None = None,
        path: str | os.PathLike[str] | None = None,
        schema: DatasetSchema | None = None,
        task: str = "classification",
    ) -> None:
        name = Path(os.fsdecode(path)).name if path is not None else "onnx model"
        super().__init__(session, name=name, schema=schema)
        if check_task(task, func="OnnxModel") == "regression":
            self.task = "regression"
        if output not in ("auto", "proba", "log_proba", "logits"):
            raise ParameterError(
                f"output must be 'auto', 'proba', 'log_proba' or 'logits'; got {output!r}."
            )
        self.path = Path(os.fsdecode(path)) if path is not None else None
        self.inputs = list(session.get_inputs())
        self.outputs = list(session.get_outputs())
        if not self.inputs or not self.outputs:
            raise ModelFileError(f"The ONNX graph {name} has no inputs or no outputs.")
        names = [i.name for i in self.inputs]
        for key in input_map or {}:
            if key not in names:
                raise ModelFileError(_missing_input(key, names, name))
        self.input_map = {i.name: (input_map or {}).get(i.name, i.name) for i in self.inputs}
        self._given = set(input_map or {})  # inputs whose column the user named
        self.features = list(features) if features is not None else None
        first = self.inputs[0]
        if len(self.inputs) > 1:
            self.mode: Mode = "columns"
        elif len(first.shape) >= 3:
            self.mode = "image"
        else:
            self.mode = "matrix"
        self.output_index = _proba_output(self.outputs)
        out = self.outputs[self.output_index]
        zipmap = out.type.startswith("seq(map")
        if output == "auto":
            output = "proba" if zipmap or out.name.lower() in _PROBA_NAMES else "logits"
        self.output = output
        self.output_node: str | None = None  # the graph's node that made it probabilities
        self.classes_ = np.asarray(classes) if classes is not None else None
        fixed = _fixed(first.shape[0]) if first.shape else None
        self.batch_size = fixed or batch_size or (64 if self.mode == "image" else 8192)

    # -- inputs ---------------------------------------------------------------------------
    def _feeds(self, X: Any) -> tuple[list[dict[str, np.ndarray]], int]:
        """Return the feed dicts (one per batch) for ``X`` and its number of rows."""
        if self.mode == "columns":
            cols = self._columns(X)
            n = len(next(iter(cols.values())))
        else:
            arr = self._matrix(X) if self.mode == "matrix" else self._images(X)
            cols = {self.inputs[0].name: arr}
            n = len(arr)
        b = self.batch_size
        return [{k: v[s : s + b] for k, v in cols.items()} for s in range(0, n, b)], n

    def _matrix(self, X: Any) -> np.ndarray:
        inp = self.inputs[0]
        columns = None
        if hasattr(X, "columns"):
            have = [str(c) for c in X.columns]
            wanted = self.features if self.features is not None else have
            missing = [c for c in wanted if c not in have]
            if missing:
                raise DataValidationError(
                    f"Column {missing[0]!r} (a feature of the ONNX model {self.name}) not found "
                    f"in the table; it has {', '.join(have)}."
                )
            X = X[wanted] if self.features is not None else X
            columns = list(wanted)
        arr = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        width = _fixed(inp.shape[1]) if len(inp.shape) > 1 else None
        if width is not None and arr.shape[1] != width:
            raise DataValidationError(
                f"The ONNX model {self.name} takes {width} feature(s) in its input "
                f"{inp.name!r}; X has {arr.shape[1]} column(s). Choose the model's columns "
                "(features=[...], --features A,B,... on the command line)."
            )
        return self._cast(arr, inp.type, columns)

    def _images(self, X: Any) -> np.ndarray:
        inp = self.inputs[0]
        arr = X.detach().cpu().numpy() if hasattr(X, "detach") else np.asarray(X)
        want = [_fixed(d) for d in inp.shape[1:]]
        if arr.ndim != len(inp.shape) or any(
            w is not None and w != s for w, s in zip(want, arr.shape[1:])
        ):
            shown = ", ".join("?" if w is None else str(w) for w in want)
            raise DataValidationError(
                f"The ONNX model {self.name} takes images of shape (n, {shown}) "
                f"in its input {inp.name!r}; got an array of shape {arr.shape}."
            )
        return self._cast(arr, inp.type, None)

    def _columns(self, X: Any) -> dict[str, np.ndarray]:
        if not hasattr(X, "columns"):
            raise DataValidationError(
                f"The ONNX model {self.name} takes one input per column "
                f"({', '.join(self.input_map)}); pass X as a table with those columns."
            )
        have = [str(c) for c in X.columns]
        out = {}
        for inp in self.inputs:
            col = self.input_map[inp.name]
            if col not in have and inp.name not in self._given:
                col = self.input_map[inp.name] = _exported_column(inp.name, have) or col
            if col not in have:
                raise DataValidationError(
                    f"Column {col!r} (input {inp.name!r} of the ONNX model {self.name}) not "
                    f"found in the table; it has {', '.join(have)} (name the column of each "
                    "input with input_map=)."
                )
            v = np.asarray(X[col].to_numpy()).reshape(-1, 1)
            out[inp.name] = self._cast(v, inp.type, [col])
        return out

    def _cast(self, arr: np.ndarray, onnx_type: str, columns: list[str] | None) -> np.ndarray:
        dtype = _DTYPES.get(onnx_type)
        if dtype is None:
            raise DataValidationError(
                f"The ONNX model {self.name} has an input of type {onnx_type}, which auditkit "
                "cannot feed (float, double, int32, int64, bool and string inputs are)."
            )
        if dtype is np.float32:
            return _as_float32(arr, columns, self.name)
        if dtype is object:
            return np.asarray([str(v) for v in arr.reshape(-1)], dtype=object).reshape(arr.shape)
        try:
            return np.asarray(arr, dtype=dtype)
        except (TypeError, ValueError) as exc:
            where = f" (column {columns[0]!r})" if columns and len(columns) == 1 else ""
            raise DataValidationError(
                f"The ONNX model {self.name} takes {onnx_type} values{where}: {exc}"
            ) from exc

    # -- outputs --------------------------------------------------------------------------
    def _proba(self, X: Any) -> Any:
        feeds, n = self._feeds(X)
        name = self.outputs[self.output_index].name
        parts = [self._to_proba(self.raw.run([name], f)[0]) for f in feeds]
        if not parts:
            k = len(self.classes_) if self.classes_ is not None else 2
            return np.zeros((0, k))
        return np.concatenate(parts, axis=0)

    def _values(self, X: Any) -> Any:
        """Return the chosen output as it is: one number per row for a regression."""
        feeds, _ = self._feeds(X)
        name = self.outputs[self.output_index].name
        parts = []
        for f in feeds:
            out = self.raw.run([name], f)[0]
            if isinstance(out, list):
                raise DataValidationError(
                    f"The ONNX model {self.name} returns class probabilities ({name!r}), not "
                    "the number a regression predicts."
                )
            arr = np.asarray(out, dtype=np.float64)
            parts.append(arr.reshape(len(arr), -1))
        return np.concatenate(parts, axis=0) if parts else np.zeros((0, 1))

    def _to_proba(self, out: Any) -> np.ndarray:
        if isinstance(out, list):  # ZipMap: one {class: probability} dict per row
            keys = list(out[0]) if out else []
            if self.classes_ is None:
                self.classes_ = np.asarray(keys)
            order = [k for k in self.classes_.tolist()] if len(keys) else keys
            return np.asarray([[row[k] for k in order] for row in out], dtype=np.float64)
        arr = np.asarray(out, dtype=np.float64)
        arr = arr.reshape(len(arr), -1)
        if self.output == "log_proba":
            arr = np.exp(arr)
        if self.output in ("proba", "log_proba"):
            # one column: the positive class's probability (a sigmoid output)
            return np.column_stack([1.0 - arr[:, 0], arr[:, 0]]) if arr.shape[1] == 1 else arr
        if arr.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-arr[:, 0]))
            return np.column_stack([1.0 - p, p])
        z = arr - arr.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    # -- description ----------------------------------------------------------------------
    def fingerprint(self) -> str | None:
        """Return the sha256 of the ONNX file (None for a session built from bytes)."""
        if self.path is None or not self.path.is_file():
            return None
        return file_sha256(self.path)

    def describe(self) -> dict[str, Any]:
        """Return the graph's inputs, the output used, the producer and the feeding mode."""
        d = super().describe()
        meta = self.raw.get_modelmeta()
        d.update(
            path=str(self.path) if self.path is not None else None,
            producer=f"{meta.producer_name} {meta.version}".strip(),
            mode=self.mode,
            inputs=[
                {"name": i.name, "type": i.type, "shape": [str(s) for s in i.shape]}
                for i in self.inputs
            ],
            output=self.outputs[self.output_index].name,
            output_holds="values" if self.task == "regression" else self.output,
            output_node=self.output_node,
            gradients=False,
        )
        if self.mode == "columns":
            d["input_map"] = dict(self.input_map)
        elif self.features is not None:
            d["features"] = list(self.features)
        return d


def _exported_column(name: str, columns: list[str]) -> str | None:
    """Return the one column an exporter renamed to the graph input ``name``, else None.

    skl2onnx (and tf2onnx, torch.onnx) make input names C identifiers: every character other
    than a letter, digit, ``_`` or ``+`` becomes ``_``, and a leading digit gets a ``_``
    (``marital-status`` is the input ``marital_status``). A name two columns share is left
    unmatched: the error then names the input and the table's columns.
    """
    found = []
    for c in columns:
        ident = re.sub(r"[^\w+]", "_", c)
        if re.match(r"[0-9]", ident):
            ident = "_" + ident
        if ident == name:
            found.append(c)
    return found[0] if len(found) == 1 else None


def _missing_input(name: str, names: list[str], model: str) -> str:
    return (
        f"Input {name!r} is not an input of the ONNX graph {model}; its inputs are "
        f"{', '.join(names)}."
    )


def _proba_output(outputs: list[Any]) -> int:
    """Index of the scores output: a probability name, a ZipMap, else the second or first."""
    for j, o in enumerate(outputs):
        if o.name.lower() in _PROBA_NAMES:
            return j
    for j, o in enumerate(outputs):
        if o.type.startswith("seq(map"):
            return j
    return 1 if len(outputs) > 1 else 0


#: Nodes that leave their input's values as they are (walked through to the scoring node).
_PASS_OPS = {"Identity", "Cast", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}
_SCORE_OPS: dict[str, Literal["proba", "log_proba"]] = {
    "Softmax": "proba", "Sigmoid": "proba", "LogSoftmax": "log_proba",
}  # fmt: skip


def _graph_output_kind(model: Any, name: str) -> tuple[Literal["proba", "log_proba"], str] | None:
    """Return what output ``name`` holds when a scoring node computes it, else None.

    ``("proba", op)`` for a Softmax or Sigmoid node, ``("log_proba", "LogSoftmax")``; reshapes
    and casts between that node and the output are walked through.
    """
    if model is None:
        return None
    producer = {o: node for node in model.graph.node for o in node.output}
    node = producer.get(name)
    for _ in range(16):  # a few pass-through nodes at most
        if node is None:
            return None
        if node.op_type in _SCORE_OPS:
            return _SCORE_OPS[node.op_type], node.op_type
        if node.op_type not in _PASS_OPS or not node.input:
            return None
        node = producer.get(node.input[0])
    return None


#: Nodes of the ai.onnx.ml domain that end a regressor (skl2onnx writes them).
_REGRESSOR_OPS = ("LinearRegressor", "TreeEnsembleRegressor", "SVMRegressor")


def _graph(path: Path) -> Any:
    """Return the graph of an ONNX file, read by ``onnx`` when it is here (else None)."""
    try:
        import onnx
    except ImportError:
        return None
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - the session already read the file; this is a bonus
        return None


def _graph_task(model: Any) -> Task:
    """``"regression"`` for a graph with a regressor node and no classifier node."""
    if model is None:
        return "classification"
    ops = {node.op_type for node in model.graph.node}
    if ops & set(_REGRESSOR_OPS) and not any(op.endswith("Classifier") for op in ops):
        return "regression"
    return "classification"


def _graph_classes(model: Any) -> list[Any] | None:
    """Class labels from the graph's classifier node (skl2onnx writes them)."""
    if model is None:
        return None
    for node in model.graph.node:
        for a in node.attribute:
            if a.name in _CLASS_ATTRS:
                if a.ints:
                    return [int(v) for v in a.ints]
                if a.strings:
                    return [s.decode("utf-8") for s in a.strings]
    return None


def load_onnx(
    path: str | os.PathLike[str],
    *,
    features: Sequence[str] | None = None,
    input_map: Mapping[str, str] | None = None,
    output: Literal["auto", "proba", "log_proba", "logits"] = "auto",
    providers: Sequence[str] | None = None,
    schema: DatasetSchema | None = None,
) -> OnnxModel:
    """Open an ``.onnx`` file with onnxruntime and return its adapter.

    Parameters
    ----------
    path : str or path-like
        The ONNX file.
    features : sequence of str, default=None
        Columns fed to a model with one 2-d input, in order.
    input_map : mapping of str to str, default=None
        Graph input name -> table column, for a model with one input per column; every key must
        be an input of the graph.
    output : {"auto", "proba", "log_proba", "logits"}, default="auto"
        What the scores output holds (see :class:`OnnxModel`); ``"auto"`` reads the graph: an
        output computed by ``Softmax`` or ``Sigmoid`` holds probabilities (not softmaxed
        again), by ``LogSoftmax`` log-probabilities.
    providers : sequence of str, default=None
        onnxruntime execution providers (default: the CPU).
    schema : DatasetSchema, default=None

    Returns
    -------
    OnnxModel

    Raises
    ------
    ModelFileError
        When the file is missing or not an ONNX graph onnxruntime can run, or ``input_map``
        names an input the graph lacks (one line naming it and the graph's inputs).
    """
    p = Path(os.fsdecode(path))
    if not p.is_file():
        raise ModelFileError(f"ONNX file {p} not found (no such file).")
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise missing_dependency("onnxruntime", "onnx", f"the ONNX file {p}") from exc
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only: onnxruntime's warnings go to stderr otherwise
    try:
        session = ort.InferenceSession(
            str(p), sess_options=opts, providers=list(providers or ["CPUExecutionProvider"])
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{p} is not an ONNX model onnxruntime can run: {first}") from exc
    graph = _graph(p)
    task = _graph_task(graph)
    adapter = OnnxModel(
        session, features=features, input_map=input_map, output=output,
        classes=_graph_classes(graph) if task == "classification" else None, path=p,
        schema=schema, task=task,
    )  # fmt: skip
    if task == "regression":  # its nodes say it is a regressor: never read as a classifier
        adapter.can_regress = False
    elif output == "auto" and adapter.output == "logits":
        found = _graph_output_kind(graph, adapter.outputs[adapter.output_index].name)
        if found is not None:  # the graph applies the softmax itself: never twice
            adapter.output, adapter.output_node = found
    return adapter
