"""Append-only JSON-lines logs in a sweep folder (``decisions.jsonl``, the MLflow events).

A line is written whole, newline included, by one write; a process killed during the write
(or a full disk) leaves a torn last line without its newline. Readers ignore that fragment,
and writers cut it off before their first append (``repair``), so a new line never gets glued
onto it. A line in the middle that is not JSON cannot come from sweeper's own writes once
they are repaired, only from damage to the file; readers return it as ``bad`` for the caller
to skip and report, because failing on it would make the sweep impossible to resume.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BadLine", "JsonLines", "append", "read", "repair"]


@dataclass(frozen=True)
class BadLine:
    """A complete line that is not a JSON object: its 1-based number, its text, why."""

    number: int
    text: str
    problem: str


@dataclass(frozen=True)
class JsonLines:
    """The complete lines of a log: the objects by line number, the bad lines, the count."""

    entries: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    lines: int = 0  # complete lines, blank and bad ones included
    torn: bool = False  # the file ends in a fragment without its newline


def _complete(path: Path) -> tuple[bytes, bool]:
    data = path.read_bytes() if path.exists() else b""
    cut = data.rfind(b"\n") + 1
    return data[:cut], cut < len(data)


def read(path: Path, skip: int = 0) -> JsonLines:
    """The log's complete lines after the first ``skip``; a torn last line is left out."""
    complete, torn = _complete(path)
    lines = complete.split(b"\n")[:-1]
    result = JsonLines(lines=len(lines), torn=torn)
    for number, raw in enumerate(lines[skip:], start=skip + 1):
        text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            result.bad.append(BadLine(number, text, f"not JSON ({exc})"))
            continue
        if isinstance(value, dict):
            result.entries.append((number, value))
        else:
            result.bad.append(BadLine(number, text, "not a JSON object"))
    return result


def repair(path: Path) -> bool:
    """Cut a torn last line off (before appending); whether there was one."""
    if not path.exists():
        return False
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return False
        handle.seek(0)
        cut = handle.read().rfind(b"\n") + 1
        handle.truncate(cut)
        return True


def append(path: Path, value: dict[str, Any]) -> None:
    """Append one line; a write that fails part-way is cut off again, so the file still
    ends on a complete line."""
    text = (json.dumps(value, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            written = 0
            while written < len(text):
                written += os.write(fd, text[written:])
        except BaseException:
            os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)
