"""Import a user's model builder named as ``package.module:function``.

The module is looked up from the current directory and the search-space file's folder,
so a builder next to the file works without installing anything.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from typing import Any

from sweeper.errors import SpecError
from sweeper.spec import LoadedSpec


def import_builder(kind: str) -> Any:
    """The function named by ``package.module:function`` (in a worker: errors propagate)."""
    module_name, _, function = kind.partition(":")
    return getattr(importlib.import_module(module_name), function)


def builder_dirs(loaded: LoadedSpec) -> tuple[str, ...]:
    """Folders a custom builder is imported from (added to sys.path, also in workers)."""
    if loaded.spec.model.builtin:
        return ()
    return (str(loaded.base_dir), str(Path.cwd()))


def resolve_builder(loaded: LoadedSpec) -> Any:
    """The builder function, or None for the built-in cnn; import problems are located."""
    kind = loaded.spec.model.kind
    if kind == "cnn":
        return None
    module_name, _, function = kind.partition(":")
    for folder in builder_dirs(loaded):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    where = ("model", "kind")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            message = (f"model.kind: no module '{exc.name}' (looked in the current folder, "
                       f"{loaded.base_dir} and the installed packages)")
        else:
            message = f"model.kind: importing '{module_name}' failed: {exc}"
        raise SpecError([loaded.problem(where, message)]) from None
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1]
        raise SpecError([loaded.problem(
            where, f"model.kind: importing '{module_name}' raised {type(exc).__name__}: {exc} "
                   f"({last.filename}:{last.lineno})")]) from None
    builder = getattr(module, function, None)
    if builder is None or not callable(builder):
        names = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        raise SpecError([loaded.problem(
            where, f"model.kind: '{module_name}' has no function '{function}'"
            + (f"; it has: {', '.join(names[:10])}" if names else ""))])
    return builder
