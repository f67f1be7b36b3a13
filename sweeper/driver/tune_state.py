"""Tune's saved state names sweeper's classes by their module paths (tuner.pkl, the
experiment state). A sweep started under an older layout of sweeper names modules this
version no longer has: say so, instead of a traceback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sweeper.errors import UserInputError

__all__ = ["readable_tune_state"]

_PICKLE_MISSING = re.compile(r"Can't get attribute '([^']+)' on <module '([^']+)'")


def _missing_sweeper_module(exc: BaseException) -> str | None:
    """The sweeper module (or module.Class) an unpickled state names and this version lacks."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ModuleNotFoundError) and (seen.name or "").startswith("sweeper."):
            return seen.name
        # pickle: "Can't get attribute 'FailureStopper' on <module 'sweeper.observe...'>"
        found = _PICKLE_MISSING.search(str(seen)) if isinstance(seen, AttributeError) else None
        if found is not None and found[2].startswith("sweeper."):
            return f"{found[1]} in {found[2]}"
        seen = seen.__cause__ or seen.__context__
    return None


@contextmanager
def readable_tune_state(name: str, doing: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        missing = _missing_sweeper_module(exc)
        if missing is None:
            raise
        raise UserInputError(
            f"cannot {doing}: sweep {name!r} was started by an older version of sweeper, "
            f"whose saved Tune state refers to {missing!r}, which this version does not "
            "have. Its tables, study and files stay readable (status, results, "
            "compare and export work); resume it with the version that started it, or run "
            "its file again with `sweeper run FILE --name NEW`") from None
