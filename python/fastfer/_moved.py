"""The module paths of fastfer 0.1 that moved into sub-packages, kept importable for one release.

``import fastfer.stream``, ``from fastfer import fer2013`` and ``fastfer.kernels`` give the module at
its new path (``fastfer.video.stream`` ...) and warn once with a DeprecationWarning naming it. The
old names are served by an import hook instead of one file each, so the top level of the package
holds only what belongs there.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

#: Old module path under ``fastfer`` -> new one. Removed in the release after 0.2.
MOVED = {
    "fer": "core.fer",
    "detector": "core.detector",
    "classifier": "core.classifier",
    "result": "core.result",
    "timing": "core.timing",
    "image": "io.image",
    "kernels": "backend.kernels",
    "runtime": "backend.runtime",
    "stream": "video.stream",
    "tracking": "video.tracking",
    "smoothing": "video.smoothing",
    "video_summary": "video.summary",
    "parallel": "scale.parallel",
    "ray": "scale.ray",
    "widerface": "eval.widerface",
    "fer2013": "eval.fer2013",
    "bench": "eval.bench",
}


def import_moved(old: str) -> ModuleType:
    """The module that ``fastfer.<old>`` became, with a DeprecationWarning naming its new path."""
    new = f"fastfer.{MOVED[old]}"
    # stacklevel 3: past this function and its caller (the hook or the package's __getattr__),
    # to the user's import; the import system's own frames are skipped by the warnings module.
    warnings.warn(
        f"fastfer.{old} moved to {new}; import it from there (the old path goes in the next release)",
        DeprecationWarning,
        stacklevel=3,
    )
    return importlib.import_module(new)


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``fastfer.<old>`` for the names in MOVED and loads it as the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, old = fullname.partition(".")
        if package != "fastfer" or old not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        module = import_moved(spec.name.partition(".")[2])
        spec.loader_state = module.__spec__  # the import system overwrites __spec__: put it back
        return module

    def exec_module(self, module):
        """Nothing to run (the module at the new path is imported); gives the module its own spec
        back, so its relative imports still resolve from its new package."""
        module.__spec__ = module.__spec__.loader_state


def install() -> None:
    """Adds the finder to the import system once."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
