"""Resolve sweeper's dependencies afresh and write the pins `make install` installs.

Run by `make pins` in a new, empty venv, so that nothing already installed steers the
resolution: pip resolves pyproject.toml's ranges (with the dev and gpu extras, the
PostgreSQL driver of the MLflow image, and pip and setuptools themselves) without installing
anything (`pip install --dry-run --report`) and the report becomes:

- constraints.txt: every package, for `make install` (and CI) on any extras;
- docker/constraints.txt: the same versions, less the development tools, for the images.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"
IMAGE_LOCK = ROOT / "docker" / "constraints.txt"
EVERYTHING = [".[dev,gpu]", "psycopg2-binary", "pip", "setuptools"]
IMAGE = [".[gpu]", "psycopg2-binary"]
HEADER = """# Pinned, tested versions of every package {what}.
# Resolved for CPython {python} on Linux x86_64 from pyproject.toml's ranges, in a fresh venv.
# Refresh: `make pins` (then `make test`, which rebuilds .venv on the new pins).
"""


def resolve(python: str, requirements: list[str], constraints: Path | None) -> dict[str, str]:
    """{name: version} of what pip would install for ``requirements`` into an empty venv."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                   "--quiet", "--report", str(report), *requirements]
        if constraints is not None:
            command += ["--constraint", str(constraints)]
        subprocess.run(command, check=True, cwd=ROOT)
        installs = json.loads(report.read_text())["install"]
    pins = {item["metadata"]["name"]: item["metadata"]["version"] for item in installs}
    pins.pop("sweeper", None)
    return pins


def write(path: Path, pins: dict[str, str], what: str, python: str) -> None:
    lines = [f"{name}=={version}" for name, version in
             sorted(pins.items(), key=lambda item: item[0].lower())]
    path.write_text(HEADER.format(what=what, python=python) + "\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--python", required=True, help="the fresh venv's python")
    args = parser.parse_args()
    version = subprocess.run(
        [args.python, "-c", "import platform; print(platform.python_version())"],
        check=True, capture_output=True, text=True).stdout.strip()
    everything = resolve(args.python, EVERYTHING, None)
    write(LOCK, everything, "sweeper installs, development tools and GPU extra included",
          version)
    image = resolve(args.python, IMAGE, LOCK)
    write(IMAGE_LOCK, image, "of the docker/ images (no development tools)", version)
    print(f"{LOCK.name}: {len(everything)} packages; {IMAGE_LOCK.relative_to(ROOT)}: "
          f"{len(image)} packages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
