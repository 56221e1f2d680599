"""The layout's rules (ARCHITECTURE.md), checked over every import, function-level ones included.

- no import cycle between modules;
- each stage imports only stages below it (a folder may import itself);
- the command line uses only public names;
- no module name shadows a public function of ``auditkit``;
- ``import auditkit`` loads none of the heavy libraries.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import auditkit

PACKAGE = Path(auditkit.__file__).parent

#: Stage of each top-level part of the package; a part may import only lower stages.
STAGES: dict[str, int] = {
    "auditkit.exceptions": 0,  # leaves: every stage may import them
    "auditkit._version": 0,
    "auditkit._core": 1,
    "auditkit.data": 2,
    "auditkit.result": 2,
    "auditkit.metrics": 2,
    "auditkit.scale": 2,
    "auditkit.runtime": 3,
    "auditkit.adapters": 4,
    "auditkit.models": 5,
    "auditkit.inputs": 6,
    "auditkit.explanation": 6,
    "auditkit.sections": 7,
    "auditkit.policy": 8,
    "auditkit.report": 9,
    "auditkit._api": 10,
    "auditkit.mitigation": 10,
    "auditkit._compat": 10,
    "auditkit.mlflow": 10,
    "auditkit.testing": 11,
    "auditkit": 12,
    "auditkit.cli": 13,
    "auditkit._cli": 13,
    "auditkit.__main__": 14,
}
CLI_PARTS = ("auditkit.cli", "auditkit._cli", "auditkit.__main__")
HEAVY = ("torch", "pytorch_lightning", "lightning", "captum", "fairlearn", "sklearn", "pandas")


def module_files(root: Path = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name -> (file, is a package)."""
    out = {}
    for p in sorted(root.rglob("*.py")):
        parts = list(p.relative_to(root.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (p, is_pkg)
    return out


def imports_of(name: str, path: Path, is_pkg: bool, known: set[str]) -> list[tuple[str, str, int]]:
    """(imported module, imported name or '', line) for every auditkit import in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names if a.name.startswith("auditkit")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("auditkit"):
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.append((sub, "", node.lineno) if sub in known else (mod, a.name, node.lineno))
    return out


def graph(root: Path = PACKAGE) -> dict[str, dict[str, int]]:
    """Module -> {imported auditkit module: first line}, self-imports left out."""
    files = module_files(root)
    known = set(files)
    edges: dict[str, dict[str, int]] = {m: {} for m in files}
    for m, (path, is_pkg) in files.items():
        for target, _, line in imports_of(m, path, is_pkg, known):
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target != m:
                edges[m].setdefault(target, line)
    return edges


def part_of(module: str) -> str:
    """The longest STAGES key that is the module or a package above it."""
    best = "auditkit"
    for key in STAGES:
        if (module == key or module.startswith(key + ".")) and len(key) > len(best):
            best = key
    return best


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in list(edges):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)  # other tests rely on the default depth
    return out


def back_edges(edges: dict[str, dict[str, int]]) -> list[str]:
    """Imports of a stage not below the importer's (another folder of the same stage included)."""
    bad = []
    for m, targets in edges.items():
        src = part_of(m)
        for t, line in targets.items():
            dst = part_of(t)
            if dst == src or dst == "auditkit" and src == "auditkit":
                continue
            if STAGES[dst] >= STAGES[src]:
                bad.append(f"{m}:{line} imports {t} (stage {STAGES[dst]} >= {STAGES[src]})")
    return bad


def private_cli_imports(root: Path = PACKAGE) -> list[str]:
    """Imports by the command line of a private module or name (an underscore part)."""
    files = module_files(root)
    known = set(files)
    bad = []
    for m, (path, is_pkg) in files.items():
        if part_of(m) not in CLI_PARTS:
            continue
        for target, name, line in imports_of(m, path, is_pkg, known):
            if part_of(target) in CLI_PARTS:
                continue
            parts = target.split(".")[1:] + ([name] if name else [])
            if any(p.startswith("_") and not p.endswith("__") for p in parts):
                bad.append(f"{m}:{line} imports {target}{'.' + name if name else ''}")
    return bad


def test_every_module_has_a_stage():
    unknown = [m for m in module_files() if part_of(m) == "auditkit" and m != "auditkit"]
    assert not unknown, f"modules outside every stage of STAGES: {unknown}"


def test_no_import_cycle():
    found = cycles(graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_each_stage_imports_only_stages_below():
    bad = back_edges(graph())
    assert not bad, "imports against the stages of ARCHITECTURE.md:\n" + "\n".join(bad)


def test_cli_uses_only_public_names():
    bad = private_cli_imports()
    assert not bad, "the CLI imports private names:\n" + "\n".join(bad)


def test_no_module_shadows_a_public_function():
    files = module_files()
    public = [n for n in auditkit.__all__ if callable(getattr(auditkit, n)) and n[0].islower()]
    clash = [n for n in public if f"auditkit.{n}" in files]
    assert not clash, f"modules named like public functions: {clash}"


def test_import_auditkit_is_light():
    code = f"import sys, auditkit\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"import auditkit loaded: {out}"


def test_model_files_open_without_lightning(tmp_path):
    """Recognising and opening an ONNX or skops file imports no Lightning (seconds per run).

    The reference models (``auditkit.models``' classes and registry) load on first use.
    """
    pytest.importorskip("skops")
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    f = tmp_path / "m.skops"
    sio.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), f)
    code = (
        "import sys, auditkit\n"
        "from auditkit.models.kinds import model_kind\n"
        f"assert model_kind({str(f)!r}) == 'skops'\n"
        f"m = auditkit.load_model({str(f)!r})\n"
        "assert m.predict_proba([[0.5]]).shape == (1, 2)\n"
        "print(','.join(n for n in ('pytorch_lightning', 'lightning') if n in sys.modules))\n"
        "from auditkit.models import MODEL_REGISTRY\n"
        "assert 'adult-mlp' in MODEL_REGISTRY and 'pytorch_lightning' in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"opening a skops file loaded {out.stdout.strip()}"


def test_old_audit_package_answers_only_its_own_names():
    """``auditkit.audit`` answers its old names; any other lookup is silent and imports nothing.

    pickle's whichmodule (joblib, skops, cloudpickle) looks every name up on every module: it
    used to import the sections and warn once per name (``import skops.io`` printed hundreds).
    """
    from auditkit import _compat
    from auditkit.sections import __all__ as names

    assert set(_compat.SECTION_NAMES) == {*names, "__all__"}
    code = (
        "import sys, warnings, auditkit\n"
        "warnings.simplefilter('error')\n"
        "pkg = sys.modules['auditkit.audit']\n"
        "assert getattr(pkg, 'zetac', None) is None and not hasattr(pkg, 'ndtr')\n"
        "assert 'auditkit.sections' not in sys.modules\n"
        "import pickle, numpy\n"
        "assert pickle.whichmodule(numpy.add, 'add') == 'numpy'\n"
        "warnings.simplefilter('ignore')\n"
        "assert pkg.AuditContext.__name__ == 'AuditContext' and pkg.fairness.__name__\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_the_checks_catch_a_back_edge_and_a_cycle(tmp_path):
    """The rules fail on a tree with a deliberate back-edge (stage 0 importing sections)."""
    pkg = tmp_path / "auditkit"
    for rel in (
        "_core/__init__.py",
        "_core/io.py",
        "sections/__init__.py",
        "sections/fairness.py",
    ):
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "_core/io.py").write_text("def f():\n    from ..sections import fairness\n")
    (pkg / "sections/fairness.py").write_text("from .._core import io\n")
    edges = graph(pkg)
    assert any(
        "auditkit._core.io" in e and "auditkit.sections.fairness" in e for e in back_edges(edges)
    )
    assert cycles(edges) == [["auditkit._core.io", "auditkit.sections.fairness"]]


@pytest.mark.parametrize(
    "old, new",
    [
        ("auditkit._io", "auditkit._core.io"),
        ("auditkit.audit.fairness", "auditkit.sections.fairness"),
        ("auditkit.checkpoint", "auditkit.models.checkpoint"),
    ],
)
def test_old_paths_warn_and_give_the_same_module(old, new):
    code = (
        "import importlib, warnings, auditkit\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        f"    old = importlib.import_module({old!r})\n"
        f"new = importlib.import_module({new!r})\n"
        "assert old is new, (old, new)\n"
        "assert any(issubclass(x.category, FutureWarning)\n"
        "           and 'moved to' in str(x.message) for x in w)\n"
        "from auditkit.audit import AuditContext\n"
        "assert callable(auditkit.audit) and auditkit.audit.__module__ == 'auditkit._api'\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
