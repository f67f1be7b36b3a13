"""Pydantic's validation errors turned into located problems: FILE:LINE:COL, what was
expected, what was found, and the nearest valid name when a key or value is misspelt."""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import ValidationError

from sweeper.config.params import KIND_KEYS
from sweeper.config.schema import SECTION_MODELS, SweepSpec
from sweeper.config.yamlio import LocatedDocument, PathKey
from sweeper.errors import Problem

__all__ = ["did_you_mean", "dotted", "pydantic_problems"]


def did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _allowed_keys(loc: tuple[Any, ...]) -> tuple[list[str], str]:
    """Keys the schema allows at ``loc`` (pydantic's loc, tags included), and a label."""
    if not loc:
        return list(SweepSpec.model_fields), "the top level"
    if loc[0] == "space" and len(loc) >= 3 and loc[2] in KIND_KEYS:
        cls = KIND_KEYS[loc[2]]
        keys = [f.alias or n for n, f in cls.model_fields.items()]  # type: ignore[attr-defined]
        return keys, f"space.{loc[1]} (a {loc[2]} parameter)"
    section = SECTION_MODELS.get(str(loc[0]))
    if section is not None and len(loc) == 1:
        return list(section.model_fields), f"'{loc[0]}'"
    if loc[0] == "objective":  # one objective ("one" tag) or a list of them ("list", index)
        index = [part for part in loc[1:] if isinstance(part, int)]
        where = f"objective[{index[0]}]" if index else "'objective'"
        return list(SECTION_MODELS["objective"].model_fields), where
    return [], dotted(loc)


def _strip_tags(loc: tuple[Any, ...], data: Any) -> PathKey:
    """Pydantic's loc without union tags and function names: the path in the YAML data."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            path.append(part)
            node = node[part]
        elif isinstance(node, dict | list):
            continue  # a tag or function-validator name pydantic puts in loc
        else:
            break
    return tuple(path)


def pydantic_problems(exc: ValidationError, doc: LocatedDocument) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed, where = _allowed_keys(loc[:-1])
            path = (*_strip_tags(loc[:-1], doc.data), key)
            message = f"unknown key '{key}' in {where}"
            if allowed:
                message += f"; expected one of: {', '.join(allowed)}"
            message += did_you_mean(key, allowed)
            problems.append(doc.problem(path, message, key=True))
            continue
        path = _strip_tags(loc, doc.data)
        where = dotted(path)
        got = error.get("input")
        if kind == "missing":
            problems.append(doc.problem(path, f"{where}: missing required key '{loc[-1]}'"))
            continue
        if kind == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            options = re.findall(r"'([^']*)'", expected) or re.findall(r"[\w.]+", expected)
            message = f"{where}: expected one of {expected}, got {got!r}"
            message += did_you_mean(str(got), options)
            problems.append(doc.problem(path, message))
            continue
        msg = error["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if kind in ("value_error", "parameter_kind", "assertion_error"):
            problems.append(doc.problem(path, f"{where}: {msg}"))
        elif kind == "finite_number":
            problems.append(doc.problem(path, f"{where}: expected a finite number, got {got!r} "
                                              "(from YAML's .inf or .nan); write a number"))
        elif kind == "string_pattern_mismatch" and path == ("name",):
            problems.append(doc.problem(path, f"name: expected letters, digits, '.', '_' or '-' "
                                              f"(no '/' or '..'), got {got!r}"))
        else:
            problems.append(doc.problem(path, f"{where}: {msg}, got {got!r}"))
    return problems


