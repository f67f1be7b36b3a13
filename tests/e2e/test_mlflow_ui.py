"""The MLflow UI served by `sweeper ui`, in a real Chromium: the link it prints opens the
sweep's runs table, its parent run and child runs are listed, and the compare view of two
child runs opens. MLflow's own INFO lines (creating its database) stay off the terminal."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import free_port, sweeper, write_space
from tests.events import PATIENCE_S
from tests.sweep_on_disk import write_sweep

pytestmark = [pytest.mark.slow, pytest.mark.integration]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SPACE = """\
data: {source: digits}
budget: {trials: 3, max_epochs: 2}
search: {algorithm: random, seed: 2}
scheduler: {kind: fifo}
resources: {concurrency: 2}
space:
  learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
  filters: {choice: [4, 8]}
  dense_units: 0
"""


MLFLOW_INFO = ("Creating initial MLflow database tables", "Updating database tables",
               "INFO mlflow", "alembic", "View run")


@pytest.fixture
def ui(tmp_path: Path, ray_head: str) -> Iterator[tuple[str, Path]]:
    path = write_space(tmp_path, "browsed", SPACE)
    runs = tmp_path / "runs"
    result = sweeper("run", str(path), "--runs-dir", str(runs), "--address", ray_head)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in (*MLFLOW_INFO, "Trials did not complete"):  # sweeper's words, not theirs
        assert line not in result.stdout + result.stderr, line
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "ui", "--runs-dir", str(runs), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        assert process.stdout is not None
        assert url in process.stdout.readline()  # it prints where it listens
        assert process.stdout.readline().strip() == "each sweep's runs:"
        name, link = process.stdout.readline().split(": ", 1)
        assert name.strip() == "browsed"  # ... and the link to the sweep's runs table
        wait_healthy(url)
        yield link.strip(), runs
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=PATIENCE_S)


def wait_healthy(url: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"no MLflow UI at {url}")


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (.ci/run installs it)")
def test_ui_lists_the_sweep_and_compares_two_trials(ui: tuple[str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    link, runs = ui
    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("browsed")
    assert experiment is not None
    assert link.endswith(f"/#/experiments/{experiment.experiment_id}/runs")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(link)  # the printed link, not MLflow's GenAI front page
        # The experiment's name shows in the header before the runs table has loaded,
        # so wait for the table's own count: the parent and its three children.
        page.wait_for_selector("text=4 matching runs", timeout=PATIENCE_S * 1000)
        parent_row = page.locator('[role="row"]', has_text="browsed")
        parent_row.locator('button[data-component-id*="runnamecellrenderer"]').first.click()
        for name in ("trial-000", "trial-001", "trial-002"):
            page.wait_for_selector(f"text={name}", timeout=PATIENCE_S * 1000)
        page.screenshot(path=str(ARTIFACTS / "mlflow-runs.png"), full_page=True)
        for name in ("trial-000", "trial-001"):
            page.locator('[role="row"]', has_text=name).locator(
                'input[aria-label^="Press Space to toggle row selection"]').first.check()
        page.get_by_role("button", name="Compare").first.click()
        page.wait_for_url("**/compare-runs**", timeout=PATIENCE_S * 1000)
        page.wait_for_selector("text=Comparing 2 Runs", timeout=PATIENCE_S * 1000)
        body = page.inner_text("body")
        assert "trial-000" in body and "trial-001" in body
        page.screenshot(path=str(ARTIFACTS / "mlflow-compare.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "mlflow-compare.png").stat().st_size > 10_000


def test_ui_on_another_host_warns(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sweeper", "ui", "--runs-dir", str(tmp_path / "runs"),
         "--host", "0.0.0.0", "--port", str(free_port())],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stderr is not None
        warning = process.stderr.readline()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=PATIENCE_S)
    assert "warning: the MLflow UI will listen on 0.0.0.0" in warning
    assert "no login" in warning


def test_ui_prints_each_sweeps_runs_link_and_not_mlflows_info_lines(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_sweep(runs, "alpha")
    write_sweep(runs, "beta")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "ui.log"
    with log.open("w") as out:  # a fresh runs dir: no mlflow.db yet
        process = subprocess.Popen(
            [sys.executable, "-m", "sweeper", "ui", "--runs-dir", str(runs), "--port",
             str(port)], stdout=out, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
    try:
        wait_healthy(url)
        client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
        alpha = client.create_experiment("alpha")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=PATIENCE_S)
    text = log.read_text()
    for line in MLFLOW_INFO:
        assert line not in text, text
    assert f"MLflow UI for sqlite:///{runs.resolve() / 'mlflow.db'}: {url}" in text
    assert "alpha: its MLflow experiment 'alpha' is not written yet" in text
    with subprocess.Popen(  # with a name, that sweep's link alone, on the port it serves
            [sys.executable, "-m", "sweeper", "ui", "alpha", "--runs-dir", str(runs),
             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True) as named:
        try:
            assert named.stdout is not None
            lines = [named.stdout.readline() for _ in range(3)]
        finally:
            os.killpg(named.pid, signal.SIGTERM)
    assert lines[1:] == ["each sweep's runs:\n",
                         f"  alpha: {url}/#/experiments/{alpha}/runs\n"], lines
    result = sweeper("ui", "gamma", "--runs-dir", str(runs), timeout=PATIENCE_S)
    assert result.returncode == 2 and "no sweep named 'gamma'" in result.stderr
