"""Stage 3: one interface over every kind of model the audit accepts.

:func:`wrap` turns a scikit-learn estimator, a torch module, a ``predict_proba`` callable or an
object with an ``as_adapter()`` method (a loaded checkpoint) into a :class:`ModelAdapter`, the
only thing the sections talk to.
"""
