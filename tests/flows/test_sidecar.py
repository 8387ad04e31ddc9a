"""The side process: work done there equals work done here; errors come back, a dead
worker's call is done here."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.baseline import baseline_rows, baseline_scores
from churn.features import SYNTHETIC
from churn.plots import training_plots
from churn.synthetic import generate_world
from flows import sidecar

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The side process is used on two cores or more, whatever this machine has."""
    monkeypatch.setattr(sidecar, "available_cores", lambda: 2)


def test_calls_run_in_another_process_that_stays() -> None:
    first = sidecar.call(os.getpid)
    assert first != os.getpid()
    assert sidecar.call(os.getpid) == first


def test_baseline_and_plots_equal_those_drawn_here(caplog: pytest.LogCaptureFixture) -> None:
    side = sidecar.call(os.getpid)
    world = generate_world(2000, seed=3, as_of=date(2026, 6, 30))
    customers = world.customers
    train, test = customers.iloc[:1500], customers.iloc[1500:]
    rows = baseline_rows(train, seed=1, max_rows=1000)
    assert len(rows) == 1000
    with caplog.at_level(logging.WARNING, logger="flows.sidecar"):
        there = sidecar.call(baseline_scores, rows, test, spec=SYNTHETIC, seed=1)
    here = baseline_scores(rows, test, spec=SYNTHETIC, seed=1)
    np.testing.assert_array_equal(there, here)

    y_true = test["churned"].to_numpy()
    kwargs = {
        "baseline_score": here,
        "importance": pd.Series({"tenure_months": 3.0, "plan": 1.0}),
        "curve": pd.DataFrame(
            {"threshold": [0.1, 0.5, 0.9], "net_benefit": [5e3, 9e3, 1e3], "roi_pct": [50, 300, 90]}
        ),
        "gains": pd.DataFrame({"targeted_share": [0, 0.5, 1], "churners_captured": [0, 0.8, 1]}),
        "threshold": 0.7,
        "best_threshold": 0.5,
        "break_even": 0.07,
    }
    with caplog.at_level(logging.WARNING, logger="flows.sidecar"):
        drawn = sidecar.call(training_plots, y_true, here, **kwargs)
    # Done there, not in a fallback here.
    assert caplog.text == "" and sidecar.call(os.getpid) == side
    assert drawn == training_plots(y_true, here, **kwargs)
    assert {"roc_curve.png", "feature_importance.png", "profit_curve.png"} <= set(drawn)
    assert all(png.startswith(PNG) for png in drawn.values())


def test_an_error_there_is_raised_here_with_its_own_type() -> None:
    side = sidecar.call(os.getpid)
    with pytest.raises(ValueError, match="invalid literal") as raised:
        sidecar.call(int, "not a number")
    assert "int" in str(raised.value.__cause__)  # the side process's own traceback
    assert sidecar.call(os.getpid) == side  # and it still serves


def test_a_call_the_side_process_dies_in_is_done_here(caplog: pytest.LogCaptureFixture) -> None:
    side = sidecar.call(os.getpid)
    with (
        caplog.at_level(logging.WARNING, logger="flows.sidecar"),
        pytest.raises(ProcessLookupError),
    ):
        # It kills the side process; done again here, it finds that process gone.
        sidecar.call(os.kill, side, signal.SIGKILL)
    assert "side process failed" in caplog.text
    assert sidecar.call(os.getpid) not in (side, os.getpid())  # a new one serves


def test_an_interrupted_call_leaves_the_next_its_own_answer() -> None:
    sidecar.call(os.getpid)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(KeyboardInterrupt):
            sidecar.call(time.sleep, 1.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert sidecar.call(sum, [3, 4]) == 7  # not the interrupted call's None


def test_functions_of_the_callers_script_travel_too() -> None:
    def own_pid() -> int:
        return os.getpid()

    own_pid.__module__ = "__main__"  # the caller's script: sent by value
    assert sidecar.call(own_pid) not in (os.getpid(),)
    assert sidecar.call(lambda: 6 * 7) == 42


def test_one_core_works_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sidecar, "available_cores", lambda: 1)
    assert sidecar.call(os.getpid) == os.getpid()


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    """Unlike a spawned multiprocessing child, the side process imports neither the
    caller's script nor a ``flows`` package of the working directory."""
    script = tmp_path / "scripts" / "train_now.py"
    script.parent.mkdir()
    script.write_text(
        textwrap.dedent(
            """
            import os
            print("top level ran", flush=True)
            from flows import sidecar
            sidecar.available_cores = lambda: 2
            side = sidecar.call(os.getpid)
            print("side", side != os.getpid(), flush=True)
            print("pid", side, flush=True)
            """
        )
    )
    project = tmp_path / "project"
    (project / "flows").mkdir(parents=True)
    (project / "flows" / "__init__.py").write_text("raise SystemExit('not this flows')\n")
    out = subprocess.run(
        [sys.executable, str(script)], cwd=project, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("top level ran") == 1
    assert "side True" in out.stdout
    # And it ends with the script.
    side = int(out.stdout.split("pid ")[1].split()[0])
    deadline = time.monotonic() + 10
    while _running(side):
        assert time.monotonic() < deadline, "the side process outlived its script"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
