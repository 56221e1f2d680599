import importlib
import subprocess
import sys

import auditkit

EXPECTED = [
    "AuditResult", "AuditkitError", "Explanation", "GroupThresholdModel", "LoadedModel",
    "Policy", "__version__", "audit", "audit_predictions", "check", "explain",
    "load_checkpoint", "load_model", "load_result", "mitigate", "render_html",
    "render_markdown", "to_json", "train", "wrap",
]  # fmt: skip


def test_all_is_exact_and_every_name_resolves_with_a_docstring():
    assert sorted(auditkit.__all__) == sorted(EXPECTED)
    for name in auditkit.__all__:
        obj = getattr(auditkit, name)
        if name != "__version__":
            assert obj.__doc__, name


def test_subpackages_declare_all():
    for mod in [
        "auditkit.data",
        "auditkit.report",
        "auditkit.result",
        "auditkit.sections",
        "auditkit.inputs",
        "auditkit.scale",
        "auditkit.exceptions",
        "auditkit.adapters",
        "auditkit.models.files",
    ]:
        m = importlib.import_module(mod)
        for name in m.__all__:
            assert hasattr(m, name), (mod, name)


def test_import_is_cheap():
    code = (
        "import sys, auditkit; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('captum', 'lightning', 'pytorch_lightning', 'fairlearn')]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_model_file_errors_are_public_and_reexported():
    from auditkit import exceptions
    from auditkit.adapters import errors

    for name in ("ModelFileError", "UnsafeModelError", "MissingDependencyError"):
        assert name in exceptions.__all__
        assert getattr(errors, name) is getattr(exceptions, name)
        assert issubclass(getattr(exceptions, name), exceptions.CheckpointError)
    assert issubclass(exceptions.MissingDependencyError, ImportError)
    assert isinstance(errors.missing_dependency("onnxruntime", "onnx", "x"), ImportError)
