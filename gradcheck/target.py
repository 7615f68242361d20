"""Loading a TARGET: `package.module:function` or `path/to/file.py:function`.

Every way a TARGET can fail to name a callable is a usage error (exit 2) with one line that
says which part is wrong. An exception raised while the module itself runs is reported with
its type and message (and the traceback under --debug).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import UsageError


def load_target(target: str) -> Callable:
    """The function a TARGET names."""
    if ":" not in target:
        raise UsageError(f"TARGET {target!r} has no colon: expected package.module:function or path/file.py:function")
    where, _, name = target.rpartition(":")
    if not where or not name:
        raise UsageError(f"TARGET {target!r}: expected package.module:function or path/file.py:function")
    module = _load_file(where) if where.endswith(".py") or "/" in where or "\\" in where else _load_module(where)
    obj, path = module, where
    for part in name.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"TARGET {target!r}: {path} has no attribute {part!r}")
        obj, path = getattr(obj, part), f"{path}:{part}" if path == where else f"{path}.{part}"
    if not callable(obj):
        raise UsageError(f"TARGET {target!r}: {name} is of type {type(obj).__name__}, not a function")
    return obj


def _load_file(path: str):
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"TARGET file {path!r} does not exist")
    module_name = f"_gradcheck_target_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise UsageError(f"TARGET file {path!r} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.resolve().parent))  # so the file can import its neighbours
    try:
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except Exception as e:
        raise UsageError(f"TARGET file {path!r} raised {type(e).__name__} on import: {e}") from e
    except SystemExit as e:
        raise UsageError(f"TARGET file {path!r} called sys.exit({e.code!r}) on import") from e
    finally:
        sys.path.remove(str(file.resolve().parent))
    return module


def _load_module(name: str):
    sys.path.insert(0, str(Path.cwd()))  # `python -m gradcheck verify mymodule:f` from the project
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and (name == e.name or name.startswith(e.name + ".")):
            raise UsageError(f"TARGET module {name!r} not found (is it on PYTHONPATH?)") from e
        raise UsageError(f"TARGET module {name!r} failed to import: {e}") from e
    except SystemExit as e:
        raise UsageError(f"TARGET module {name!r} called sys.exit({e.code!r}) on import") from e
    except Exception as e:
        raise UsageError(f"TARGET module {name!r} raised {type(e).__name__} on import: {e}") from e
    finally:
        sys.path.remove(str(Path.cwd()))
