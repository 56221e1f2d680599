"""Stage 3: where torch work runs: the device pool, multi-device scoring, the fast Captum path.

Modules here import only :mod:`auditkit._core`, :mod:`auditkit.exceptions`, numpy, torch,
Lightning and Captum; they take plain torch modules and tensors, never an auditkit model.
"""
