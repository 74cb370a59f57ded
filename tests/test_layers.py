"""The layer rule of docs/architecture.md, read from the source: every import in python/fastfer
(module level and inside functions) goes from a layer to one it may use, and no two sub-packages
import each other, directly or around a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "fastfer"

# The units of docs/architecture.md: a sub-package, or "base" / "front" for top-level modules.
BASE = {"errors", "labels", "_args", "_progress", "_core", "_version"}
FRONT = {"__init__", "api", "_moved", "draw", "table", "compat", "adapters"}
TOP = {"cli", "serve", "__main__"}
BELOW_CORE = {"base", "io", "models", "backend"}
MAY_IMPORT = {
    "base": set(),
    "io": {"base"},
    "models": {"base", "io"},
    "backend": {"base", "io", "models"},
    "core": BELOW_CORE,
    "scale": BELOW_CORE | {"core"},
    "eval": BELOW_CORE | {"core"},
    "video": BELOW_CORE | {"core", "scale"},
    "front": BELOW_CORE | {"core", "scale", "eval", "video", "front"},
    "top": BELOW_CORE | {"core", "scale", "eval", "video", "front", "top"},
}
# The imports that still break the rule, each named in docs/architecture.md ("What is left"). The
# test fails when one is added and when one listed here is gone, so the list only shrinks.
KNOWN_BREACHES: set = set()  # none left; a new one fails test_imports_follow_the_layers


def unit_of(module: str) -> str:
    """The layer of a dotted module name under fastfer ("fastfer.core.fer" -> "core")."""
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    if head in BASE:
        return "base"
    if head in FRONT:
        return "front"
    if head in TOP:
        return "top"
    return head


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every fastfer module that ``path`` imports, anywhere in the file (``from . import x`` counts
    as ``package.x``, which may be a module or a name in the package)."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "fastfer"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "fastfer":
                continue
            if node.module is None or target == "fastfer":  # `from . import x`: x is a module or a name
                found |= {f"{target}.{alias.name}" for alias in node.names}
            else:
                found.add(target)
    return found


def import_edges() -> list[tuple[str, str, str]]:
    """(file relative to python/fastfer, its unit, the unit of a module it imports)."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = unit_of(module_name(path)) if path.name != "__init__.py" or path.parent != PACKAGE else "front"
        for target in imported_modules(path):
            edges.append((path.relative_to(PACKAGE).as_posix(), source, target))
    return edges


def test_every_import_goes_to_a_layer_it_may_use():
    breaches = set()
    for where, source, target in import_edges():
        unit = unit_of(target)
        if unit not in MAY_IMPORT:  # a name imported from the package (fastfer.__version__)
            unit = "front"
        if unit != source and unit not in MAY_IMPORT[source]:
            breaches.add((where, ".".join(target.split(".")[:3])))
    assert breaches == KNOWN_BREACHES


def test_no_import_circle_between_layers():
    graph: dict[str, set[str]] = {}
    for where, source, target in import_edges():
        unit = unit_of(target)
        if (where, ".".join(target.split(".")[:3])) in KNOWN_BREACHES or unit not in MAY_IMPORT:
            continue
        if unit != source:
            graph.setdefault(source, set()).add(unit)

    def reaches(start: str, goal: str, seen: set) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(unit for unit in graph if reaches(unit, unit, {unit}))
    assert circles == []


def test_the_top_level_holds_at_most_twelve_modules():
    # The public names, the base (errors, labels, version, argument checks, progress bar) and the
    # front's few modules; everything else lives in a sub-package. (The built _core is not counted.)
    modules = [p.name for p in PACKAGE.iterdir() if p.suffix == ".py"]
    assert len(modules) <= 12, sorted(modules)


def test_every_sub_package_says_what_it_holds_and_may_import():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "import" in doc, f"{init.parent.name}/__init__.py: the docstring says what it may import"


def test_the_old_module_paths_warn_and_give_the_new_modules():
    import importlib
    import subprocess
    import sys

    import fastfer
    from fastfer import _moved

    for old, new in _moved.MOVED.items():
        if old == "ray":  # needs Ray installed; the hook is the same for every name
            continue
        with pytest.warns(DeprecationWarning, match=f"fastfer.{old} moved to fastfer.{new}"):
            module = fastfer.__getattr__(old)
        assert module is importlib.import_module(f"fastfer.{new}")
    # `import fastfer.stream` and train.py's `from fastfer import fer2013, kernels`, in a fresh
    # interpreter (here they are imported already)
    code = (
        "import warnings; warnings.simplefilter('error'); import fastfer\n"
        "try:\n    import fastfer.stream\nexcept DeprecationWarning as w: print(w)\n"
        "warnings.simplefilter('ignore'); import fastfer.stream, fastfer.video.stream as s\n"
        "from fastfer import fer2013, kernels\n"
        "print(fastfer.stream is s, kernels.nms is fastfer.backend.kernels.nms, fer2013.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == [
        "fastfer.stream moved to fastfer.video.stream; import it from there (the old path goes in the next release)",
        "True True fastfer.eval.fer2013",
    ]
