"""Where a sweep's MLflow runs go, and whether that store answers before anything trains."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sweeper.errors import UserInputError

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["SECRET_NAMES", "TrackingConfig", "check_reachable", "client", "redact", "resolve"]

# userinfo runs to the LAST '@' before the host, so a password holding '@' goes too
SECRET_IN_URI = re.compile(r"(?P<scheme>[a-z][\w+.-]*://)[^/?#\s]*@", re.I)
SECRET_NAMES = ("secret", "token", "key", "password", "passwd", "pwd", "signature", "sig",
                "credential", "auth", "session", "private")
# a query parameter whose name looks secret: ?secret_key=..., &X-Amz-Signature=..., ;token=...
SECRET_IN_QUERY = re.compile(
    r"(?P<name>[?&;][\w.%-]*?(?:" + "|".join(SECRET_NAMES) + r")[\w.%-]*=)"
    r"[^&;#\s'\"]+", re.I)  # to the next parameter, fragment, space or quote


def redact(text: str) -> str:
    """Credentials in URIs never reach MLflow: userinfo (``https://user:p@ss@host``, to the
    last '@' before the host) and query parameters named like secrets (``?token=``,
    ``&secret_key=``, ``&X-Amz-Signature=``), case-insensitively."""
    text = SECRET_IN_URI.sub(r"\g<scheme>***@", text)
    return SECRET_IN_QUERY.sub(r"\g<name>***", text)


@dataclass(frozen=True)
class TrackingConfig:
    """Where a sweep's runs go."""

    uri: str
    experiment: str
    artifact_root: str | None  # only for the embedded store

    @property
    def embedded(self) -> bool:
        return self.artifact_root is not None


def resolve(uri: str | None, experiment: str | None, sweep_name: str,
            runs_dir: Path) -> TrackingConfig:
    """--tracking-uri, else the file's tracking.uri, else MLFLOW_TRACKING_URI, else runs/."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return TrackingConfig(uri, experiment or sweep_name, None)
    root = runs_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    return TrackingConfig(f"sqlite:///{root / 'mlflow.db'}", experiment or sweep_name,
                          (root / "mlartifacts").as_uri())


def client(config: TrackingConfig) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=config.uri)


def check_reachable(config: TrackingConfig) -> None:
    """A store that cannot be reached is bad input: say so before anything trains."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES",
                                            "MLFLOW_HTTP_REQUEST_TIMEOUT")}
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "10"
    try:
        client(config).search_experiments(max_results=1)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserInputError(
            f"the MLflow tracking store {redact(config.uri)} cannot be reached "
            f"({redact(first)[:300]}); "
            "start the server, or pass another --tracking-uri (nothing was trained)") from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
