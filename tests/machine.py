"""What the suite may leave on the machine: nothing but the Ray token it may generate.

Every Ray the tests start (`ray start`, `ray.init`, `cluster_utils.Cluster`, the private Ray of
`sweeper run --address local`) keeps its sessions and its `ray_current_cluster` record in a
folder of the test session (RAY_TMPDIR); Keras, matplotlib and MLflow write their settings
there too (KERAS_HOME, MPLCONFIGDIR, XDG_CONFIG_HOME, XDG_CACHE_HOME), and so does every
temporary file of the processes the tests start (TMPDIR: TensorFlow's autograph files, Ray's
lock files). Set in the controller before any test or xdist worker starts, so every process
the tests start inherits it; pytest's own temporary folders stay where pytest keeps them.

The check: what the user had before (Ray's default folder and its record, or their absence;
the folders under ~ that these libraries write) is the same after, and a user's own `ray
start` cluster, started for the session in a folder of its own, still answers with its record
unchanged.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SESSION_DIR = "SWEEPER_TEST_SESSION_DIR"
TOKEN_NAME = "auth_token"  # ~/.ray/auth_token: `make test` may generate it (README says so)
HOME_FOLDERS = (".ray", ".keras", ".config/matplotlib", ".cache/matplotlib", ".config/mlflow")


def default_ray_folder(env: dict[str, str]) -> Path:
    """Where Ray keeps its sessions and record for this environment (as Ray reads it:
    RAY_TMPDIR, else TMPDIR on Linux, else /tmp)."""
    return Path(env.get("RAY_TMPDIR") or env.get("TMPDIR") or "/tmp") / "ray"


def listing(folder: Path, leave_out: tuple[str, ...] = ()) -> list[str] | None:
    if not folder.is_dir():
        return None
    return sorted(p.name for p in folder.iterdir() if p.name not in leave_out)


def record(folder: Path) -> str | None:
    path = folder / "ray_current_cluster"
    return path.read_text() if path.exists() else None


def snapshot(ray_folder: Path, home: Path) -> dict[str, object]:
    """The user's side of the machine, as far as the suite could touch it."""
    return {"ray_folder": str(ray_folder), "ray_record": record(ray_folder),
            "ray_sessions": listing(ray_folder),
            "home": {name: listing(home / name, (TOKEN_NAME,)) for name in HOME_FOLDERS}}


def isolate() -> Path:
    """Make the session's folder, point Ray, Keras, matplotlib, MLflow and temporary files at
    it, and keep what the user's side looked like before; returns the folder (under /tmp and
    short: Ray's socket paths live in it)."""
    before = snapshot(default_ray_folder(dict(os.environ)), Path.home())
    tempfile.gettempdir()  # this process's (pytest's) temporary folder stays the user's
    folder = Path(tempfile.mkdtemp(prefix="swt-", dir="/tmp"))
    (folder / "before.json").write_text(json.dumps(before))
    for variable, sub in (("RAY_TMPDIR", "r"), ("TMPDIR", "t"), ("KERAS_HOME", "keras"),
                          ("MPLCONFIGDIR", "matplotlib"), ("XDG_CONFIG_HOME", "config"),
                          ("XDG_CACHE_HOME", "cache")):
        (folder / sub).mkdir()
        os.environ[variable] = str(folder / sub)
    os.environ[SESSION_DIR] = str(folder)
    return folder


def session_folder() -> Path:
    return Path(os.environ[SESSION_DIR])


def before() -> dict[str, object]:
    return dict(json.loads((session_folder() / "before.json").read_text()))


def after() -> dict[str, object]:
    """The snapshot `isolate` took, taken again."""
    return snapshot(Path(str(before()["ray_folder"])), Path.home())


@contextmanager
def session_lock() -> Iterator[None]:
    """One xdist worker at a time starts the user's stand-in cluster."""
    with open(session_folder() / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_STARTED: list[object] = []  # the stand-in's `ray start`, kept by the worker that started it


def users_ray() -> str:
    """The address of a user's own `ray start` cluster, stood in for by one started in a folder
    of its own (its default folder, as far as it knows) by whichever worker asks first; the
    suite's clusters must neither stop it nor touch its record."""
    from tests.ray_nodes import RayNode, free_port, wait_for_nodes

    folder = session_folder() / "user"
    with session_lock():
        if not (folder / "address").exists():
            folder.mkdir(exist_ok=True)
            port = free_port()
            node = RayNode("--head", f"--port={port}", f"--ray-client-server-port={free_port()}",
                           "--num-cpus=0", "--include-dashboard=false",
                           env={"RAY_TMPDIR": str(folder)})
            _STARTED.append(node)
            wait_for_nodes(f"127.0.0.1:{port}", 1)
            (folder / "pid").write_text(str(node.process.pid))
            (folder / "record").write_text(record(folder / "ray") or "")
            (folder / "address").write_text(f"127.0.0.1:{port}")
    return (folder / "address").read_text()


def users_ray_problems() -> list[str]:
    """What the suite did to the user's own cluster, if it was started."""
    from tests.ray_nodes import alive_nodes

    folder = session_folder() / "user"
    if not (folder / "address").exists():
        return []
    problems = []
    if len(alive_nodes((folder / "address").read_text())) != 1:
        problems.append("the user's own `ray start` cluster no longer answers")
    if (record(folder / "ray") or "") != (folder / "record").read_text():
        problems.append("the record of the user's own cluster changed")
    return problems


def release() -> None:
    """The controller's end of the session: the stand-in stops, the folder goes."""
    from tests.ray_nodes import stop_session

    folder = session_folder()
    pid = folder / "user" / "pid"
    if pid.exists():
        stop_session(int(pid.read_text()))
    shutil.rmtree(folder, ignore_errors=True)
