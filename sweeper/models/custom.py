"""A user's model builder, ``package.module:function``, as a model kind.

The module is looked up from the search-space file's folder and the current directory, so a
builder next to the file works without installing anything; those folders are searched for
the builder's own module only and go to the end of ``sys.path``, so a stray ``keras.py`` or
``yaml.py`` beside it never shadows the real library. Importing the module runs its top-level
code (also when a file is only validated). The builder keeps its three-argument signature:
``build(params, input_shape, num_classes) -> keras.Model``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeper.config.loaded import LoadedSpec
from sweeper.errors import Problem, SpecError
from sweeper.models.inputs import InputInfo, ModelDescription

if TYPE_CHECKING:
    import keras

__all__ = ["CustomKind"]

_functions: dict[str, Any] = {}  # "module:function" -> the builder, once per process


class CustomKind:
    """Builds with the user's function; knows nothing of a configuration before building."""

    describes = False

    def __init__(self, name: str, search_dirs: tuple[str, ...]) -> None:
        self.name = name
        self.search_dirs = search_dirs

    @classmethod
    def resolve(cls, loaded: LoadedSpec) -> CustomKind:
        """Import the builder now, on the driver, so a problem is located in the file."""
        kind, builder = cls.target(loaded)
        _functions[kind.name] = builder
        return kind

    @classmethod
    def target(cls, loaded: LoadedSpec) -> tuple[CustomKind, Any]:
        """The kind and the object ``model.kind`` names (a builder, or a KerasTuner
        hypermodel: ``sweeper.models.hypermodel``), imported now; SpecError located at
        ``model.kind`` when it cannot be."""
        # an exported file names the folder of the sweep's own file: its module is there
        exported_from = (loaded.spec.provenance or {}).get("source_dir")
        folders = (str(loaded.base_dir), str(Path.cwd()),
                   *([str(exported_from)] if exported_from else []))
        kind = cls(loaded.spec.model.kind, tuple(dict.fromkeys(folders)))
        where = ("model", "kind")
        module_name, _, function = kind.name.partition(":")
        try:
            module = kind._module()
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
                where, f"model.kind: importing '{module_name}' raised {type(exc).__name__}: "
                       f"{exc} ({last.filename}:{last.lineno})")]) from None
        builder = getattr(module, function, None)
        if builder is None or not (callable(builder) or _hypermodel_instance(builder)):
            names = [n for n in dir(module)
                     if not n.startswith("_") and callable(getattr(module, n))]
            raise SpecError([loaded.problem(
                where, f"model.kind: '{module_name}' has no function '{function}'"
                + (f"; it has: {', '.join(names[:10])}" if names else ""))])
        return kind, builder

    def _module(self) -> Any:
        """The builder's module: its top-level package from the file's folder or the current
        one (else installed). The folders are appended to ``sys.path``, never put first, so
        the builder's neighbours import while installed libraries keep their names."""
        module_name = self.name.partition(":")[0]
        for folder in self.search_dirs:
            if folder not in sys.path:
                sys.path.append(folder)
        top = module_name.partition(".")[0]
        if top not in sys.modules:
            for folder in self.search_dirs:
                spec = importlib.machinery.PathFinder.find_spec(top, [folder])
                if spec is not None and spec.loader is not None:  # not a namespace folder
                    _execute(top, spec.loader, spec)
                    break
        return importlib.import_module(module_name)

    def _function(self) -> Any:
        """The object ``model.kind`` names (a worker process imports it once)."""
        if self.name not in _functions:  # a worker process: import it once
            _functions[self.name] = getattr(self._module(), self.name.partition(":")[2])
        return _functions[self.name]

    def check(self, loaded: LoadedSpec) -> list[Problem]:
        return []  # a builder accepts any parameter name

    def describe(self, params: dict[str, Any], info: InputInfo) -> ModelDescription:
        return ModelDescription()

    def defaults(self) -> dict[str, Any]:
        return {}  # a builder's defaults live in its code, out of sight

    def build(self, params: dict[str, Any], info: InputInfo) -> keras.Model:
        import keras

        from sweeper.models.compile import compile_model

        model = self._function()(dict(params), info.input_shape, info.num_classes)
        if not isinstance(model, keras.Model):
            raise TypeError(f"the builder {self.name} returned {type(model).__name__}, "
                            "expected a keras.Model")
        if not getattr(model, "compiled", False):
            compile_model(model, params)
        return model


def _hypermodel_instance(obj: Any) -> bool:
    """A ``keras_tuner.HyperModel`` object (KerasTuner is imported if its module used it)."""
    keras_tuner = sys.modules.get("keras_tuner")
    return keras_tuner is not None and isinstance(obj, keras_tuner.HyperModel)


def _execute(name: str, loader: importlib.abc.Loader,
             spec: importlib.machinery.ModuleSpec) -> None:
    """Import ``name`` from where ``spec`` found it (as ``import`` would, without the path)."""
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
