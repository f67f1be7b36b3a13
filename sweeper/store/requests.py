"""``runs/<name>/requests/``: what other terminals ask of a running sweep's driver (stop,
extend) and what it answered. One file per request, written whole and renamed into place,
so a shared folder (NFS, a container's volume) never shows half a request; the driver
answers each in a file of its own and removes the request.

A request names the driver it is for (the heartbeat's ``driver_id``): one left behind by a
driver that died is answered "not applied" by the next, never applied by surprise.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from sweeper.store.layout import REQUESTS_DIR

__all__ = ["Answer", "RequestKind", "SteeringRequest", "pending_requests", "read_answer",
           "submit", "withdraw", "write_answer"]

_REQUEST = ".request.json"
_ANSWER = ".answer.json"


class RequestKind(StrEnum):
    STOP = "stop"  # no new trial; running ones run to their end
    STOP_NOW = "stop_now"  # running trials end now (pruned, stopped_by_user)
    EXTEND = "extend"  # more trials and/or more time


@dataclass(frozen=True)
class SteeringRequest:
    id: str
    kind: RequestKind
    driver_id: str  # the driver asked
    at: float
    trials: int | None = None  # EXTEND: this many more trials
    time_s: float | None = None  # EXTEND: this much more time

    def __post_init__(self) -> None:
        """A file that is no request sweeper wrote is refused here (ValueError, TypeError),
        never inside the driver's loop."""
        object.__setattr__(self, "kind", RequestKind(self.kind))
        for value in (self.id, self.driver_id):  # they name files: hex, nothing else
            if not (isinstance(value, str) and re.fullmatch(r"[0-9a-f]{12}", value)):
                raise ValueError(f"a request's ids are 12 hex digits, got {value!r}")
        if self.trials is not None and (isinstance(self.trials, bool)
                                        or not isinstance(self.trials, int) or self.trials < 1):
            raise ValueError(f"trials must be a whole number above 0, got {self.trials!r}")
        if self.time_s is not None and (isinstance(self.time_s, bool)
                                        or not isinstance(self.time_s, int | float)
                                        or not math.isfinite(self.time_s) or self.time_s <= 0):
            raise ValueError(f"time_s must be a number of seconds above 0, got {self.time_s!r}")

    @classmethod
    def new(cls, kind: RequestKind, driver_id: str, trials: int | None = None,
            time_s: float | None = None) -> SteeringRequest:
        return cls(uuid.uuid4().hex[:12], kind, driver_id, time.time(), trials, time_s)


@dataclass(frozen=True)
class Answer:
    id: str
    applied: bool
    message: str  # what the driver did, or why it did not
    at: float


def _folder(sweep: Path) -> Path:
    return sweep / REQUESTS_DIR


def _write(path: Path, payload: dict[str, object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


def submit(sweep: Path, request: SteeringRequest) -> None:
    folder = _folder(sweep)
    folder.mkdir(exist_ok=True)
    # the name sorts by time first, so the driver applies requests in the order made
    _write(folder / f"{time.time_ns():020d}-{request.id}{_REQUEST}", asdict(request))


def withdraw(sweep: Path, request_id: str) -> bool:
    """Remove a request not answered yet; False when the driver took it already."""
    for path in _folder(sweep).glob(f"*-{request_id}{_REQUEST}"):
        try:
            path.unlink()
            return True
        except FileNotFoundError:
            return False
    return False


def pending_requests(sweep: Path) -> list[tuple[Path, SteeringRequest | None]]:
    """Requests not answered yet, oldest first; None for a file that is no request (its
    path, so the caller answers and removes it)."""
    folder = _folder(sweep)
    if not folder.is_dir():
        return []
    found: list[tuple[Path, SteeringRequest | None]] = []
    for path in sorted(folder.glob(f"*{_REQUEST}")):
        try:
            found.append((path, SteeringRequest(**json.loads(path.read_text()))))
        except FileNotFoundError:
            continue  # withdrawn meanwhile
        except (OSError, ValueError, TypeError):
            found.append((path, None))
    return found


def write_answer(sweep: Path, request_path: Path, answer: Answer) -> None:
    _write(_folder(sweep) / f"{answer.id}{_ANSWER}", asdict(answer))
    request_path.unlink(missing_ok=True)


def read_answer(sweep: Path, request_id: str) -> Answer | None:
    try:
        return Answer(**json.loads((_folder(sweep) / f"{request_id}{_ANSWER}").read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        return None
