"""Stage 4: one interface over every kind of model the audit accepts.

:func:`wrap` turns a scikit-learn estimator, a torch module, a ``predict_proba`` callable or an
object with an ``as_adapter()`` method (a loaded checkpoint) into a :class:`ModelAdapter`, the
only thing the sections talk to. One module per model kind (``sklearn``, ``torch``,
``callable``, and, loaded on demand, ``hf``, ``onnx``, ``sklearn_files``, ``lightning``);
``wrapping`` holds ``wrap``, which recognises each (a module named ``wrap`` would shadow the
function on this package).
"""

from .base import ModelAdapter, ModelKind, SupportsPredictProba, TorchParts
from .callable import CallableModel
from .sklearn import SklearnModel
from .torch import TorchModel
from .wrapping import wrap

__all__ = [
    "CallableModel",
    "ModelAdapter",
    "ModelKind",
    "SklearnModel",
    "SupportsPredictProba",
    "TorchModel",
    "TorchParts",
    "wrap",
]
