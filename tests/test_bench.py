"""The benchmark script runs end to end (on a tiny size; the numbers come from `make bench`)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows import sidecar

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_produces_its_table(prefect_backend: str, tmp_path: Path) -> None:
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; earlier tests must not leak theirs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PREFECT_API_URL"] = prefect_backend
    script = str(ROOT / "bench" / "bench.py")
    out = subprocess.run(
        [sys.executable, script, "--sizes", "3000", "--repeat", "1", "--out", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    (row,) = json.loads((tmp_path / "bench.json").read_text())["rows"]
    assert row["rows"] == 3000
    assert row["score_flow_s"] > 0 and row["raw_predict_s"] > 0 and row["raw_fit_s"] > 0
    assert row["compiled_predict_s"] > 0 and row["compile_s"] > 0
    # The bare fit boosts as many rounds as the measured retrain did.
    assert row["boosting_rounds"] >= 1 and row["first_train_flow_s"] > 0
    assert row["samples_s"]["train_flow"] == [row["train_flow_s"]]
    # One round: the ratios are those of its runs.
    samples = row["samples_s"]
    (flow_s,), (fit_s,) = samples["train_flow"], samples[f"raw_fit:{row['boosting_rounds']}"]
    assert row["train_ratio"] == pytest.approx((flow_s - samples["compile"][0]) / fit_s)
    assert row["train_ratio_with_compiling"] == pytest.approx(flow_s / fit_s)
    # The side process's peak memory, read while it still runs (none on one core).
    if sidecar.available_cores() >= 2:
        assert row["train_side_peak_mb"] > 20
    else:
        assert row["train_side_peak_mb"] == 0
    assert row["score_ratio"] == pytest.approx(row["raw_predict_s"] / row["score_flow_s"])
    # Where the scoring pass's seconds go: each step timed, within the flow's time.
    steps = row["score_steps_s"]
    assert {"seconds_id_check", "seconds_read_validate", "seconds_features", "seconds_predict",
            "seconds_write_scores", "seconds_flag"} <= set(steps)  # fmt: skip
    assert all(v >= 0 for v in steps.values()) and sum(steps.values()) < row["score_flow_s"]
    table = (tmp_path / "bench.md").read_text()
    assert "| 3,000 |" in table and "Where the scoring flow's seconds go" in table
