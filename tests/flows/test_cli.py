"""The ``churn`` command as a user runs it: a subprocess, exit codes, messages, files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

CHURN = str(Path(sys.executable).with_name("churn"))


def churn(
    *args: str, cwd: Path, api_url: str | None = None, columns: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "MLFLOW_"))}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    if columns:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [CHURN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def write_config(root: Path, **data: object) -> Path:
    config = {
        "data": {
            "source": "files",
            "training_path": str(root / "customers.csv"),
            "scoring_path": str(root / "current.parquet"),
            "customers": 3000,
            **data,
        },
        # Cross-validation has tests of its own; here it would only cost time.
        "model": {"cv_folds": 0},
        "campaign": {"output_dir": str(root / "outputs"), "chunk_size": 500},
        "tracking": {"uri": f"sqlite:///{root / 'mlflow.db'}", "artifact_dir": str(root / "art")},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def synthetic_config(root: Path, *, customers: int, tracking_uri: str | None = None) -> Path:
    """A config of the synthetic world (made by the first flow that needs it), every
    store and output under ``root``."""
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"training_path": str(root / "customers.parquet"),
                 "scoring_path": str(root / "current.parquet"),
                 "truth_path": str(root / "truth.parquet"), "customers": customers},
        "model": {"cv_folds": 0},
        "campaign": {"output_dir": str(root / "outputs")},
        "tracking": {"uri": tracking_uri or f"sqlite:///{root / 'mlflow.db'}",
                     "artifact_dir": str(root / "art")},
        "ledger": {"url": f"sqlite:///{root / 'ledger.db'}"},
    }))  # fmt: skip
    return config


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    # One line says it, once: Prefect's copies of the error are not shown.
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.stderr.count(line[len("error: ") :][:60]) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def write_bad_training_table(path: Path) -> None:
    """A training table whose row 2 has a sentiment score out of its range."""
    pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "snapshot_date": ["2026-06-30"] * 3,
            "last_purchase_date": ["2026-06-01"] * 3,
            "support_tickets_open": [1, 0, 2],
            "usage_frequency": [1.0, 2.0, 3.0],
            "sentiment_score": [0.1, 4.2, -0.3],
            "tenure_months": [3, 4, 5],
            "plan": ["basic"] * 3,
            "monthly_revenue": [29.0] * 3,
            "churned": [0, 1, 0],
        }
    ).to_csv(path, index=False)


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = churn("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "retrain", "score", "serve", "ui", "data"):
        assert command in result.stdout
    # Flags read as flags, not as options that take a value.
    flags = churn("runs", "--help", cwd=tmp_path).stdout.splitlines()
    for flag in ("--json", "--wide"):
        (line,) = [line for line in flags if f"{flag} " in line]
        assert "<bool>" not in line, line


def test_the_command_line_starts_without_heavy_libraries(tmp_path: Path) -> None:
    # `churn --help` answers in well under a second because nothing heavy loads at import.
    code = (
        "import sys, flows.cli; "
        "print(sorted(m for m in ('pandas', 'numpy', 'mlflow', 'lightgbm', 'prefect', "
        "'sklearn', 'pandera') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"


def test_generate_is_deterministic(tmp_path: Path) -> None:
    args = ["data", "generate", "--customers", "300", "--seed", "5", "--json"]
    first = churn(
        *args,
        "--out",
        "a.csv",
        "--current",
        "a_now.parquet",
        "--truth",
        "a_t.parquet",
        cwd=tmp_path,
    )
    second = churn(*args, "--out", "b.csv", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    summary = json.loads(first.stdout)
    assert summary["written"] == ["a.csv", "a_now.parquet", "a_t.parquet"]
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 300 and "churned" in a
    assert "churned" not in pd.read_parquet(tmp_path / "a_now.parquet")


@pytest.mark.slow  # it waits for a Prefect server that never answers
def test_serve_without_a_server_says_how_to_get_one(tmp_path: Path) -> None:
    result = churn("serve", cwd=tmp_path)
    assert_user_error(result, "temporary local backend cannot schedule", "make serve")


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("campaign:\n  threshhold: 0.7\n")
    assert_user_error(
        churn("retrain", "--config", str(bad), cwd=tmp_path),
        "bad.yaml is invalid",
        "campaign.threshhold",
    )
    bad.write_text("campaign:\n  threshold: 1.7\n")
    assert_user_error(churn("score", "--config", str(bad), cwd=tmp_path), "campaign.threshold")
    assert_user_error(
        churn("run", "--config", "missing.yaml", cwd=tmp_path), "missing.yaml does not exist"
    )


@pytest.mark.slow
def test_run_ends_with_a_one_screen_summary(prefect_backend: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "extends": str(Path(__file__).resolve().parents[2] / "configs" / "default.yaml"),
        "data": {"customers": 3000, "training_path": str(tmp_path / "data" / "customers.parquet"),
                 "scoring_path": str(tmp_path / "data" / "current.parquet"),
                 "truth_path": str(tmp_path / "data" / "truth.parquet")},
        "model": {"cv_folds": 0},
        "campaign": {"output_dir": str(tmp_path / "outputs")},
        "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
                     "artifact_dir": str(tmp_path / "art")},
        "ledger": {"url": f"sqlite:///{tmp_path / 'ledger.db'}"},
    }))  # fmt: skip
    result = churn("run", "--config", str(config), cwd=tmp_path, api_url=prefect_backend)
    assert result.returncode == 0, result.stderr
    shown = (result.stdout + result.stderr).splitlines()
    # Fits one screen, says what happened in dollars, and where to look next.
    assert len(shown) <= 30, "\n".join(shown)
    assert "Finished in state" not in result.stderr and "Downloading artifacts" not in result.stderr
    for words in ("model      churn-model v1, champion", "to contact", "held out",
                  "expected   net benefit $", "realized   net benefit $", "95 % intervals",
                  "Next: `make ui`"):  # fmt: skip
        assert words in result.stdout, result.stdout
    assert "{" not in result.stdout  # no raw dictionary


@pytest.mark.slow
def test_bad_training_file_stops_cleanly_and_writes_nothing(
    prefect_backend: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    write_bad_training_table(tmp_path / "customers.csv")
    result = churn("retrain", "--config", str(config), cwd=tmp_path, api_url=prefect_backend)
    assert_user_error(result, "customers.csv", "'sentiment_score'", "row 2", "customer_id 'C2'")
    assert not (tmp_path / "outputs").exists()
    if (tmp_path / "mlflow.db").exists():
        from mlflow.tracking import MlflowClient

        # The registry too: a client without one uses the process's default (another test's).
        store = f"sqlite:///{tmp_path / 'mlflow.db'}"
        assert MlflowClient(store, registry_uri=store).search_registered_models() == []


@pytest.mark.slow
def test_train_score_then_bad_scoring_file_keeps_the_previous_campaign(
    prefect_backend: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    generated = churn(
        "data",
        "generate",
        "--customers",
        "3000",
        "--seed",
        "9",
        "--out",
        "customers.csv",
        "--current",
        "current.parquet",
        "--truth",
        "data/truth.parquet",
        cwd=tmp_path,
    )
    assert generated.returncode == 0, generated.stderr
    trained = churn(
        "retrain", "--config", str(config), "--json", cwd=tmp_path, api_url=prefect_backend
    )
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["registry_alias"] == "champion"
    scored = churn(
        "score",
        "--config",
        str(config),
        "--campaign-id",
        "c1",
        "--json",
        cwd=tmp_path,
        api_url=prefect_backend,
    )
    assert scored.returncode == 0, scored.stderr
    summary = json.loads(scored.stdout)
    campaign = Path(summary["campaign_path"])
    before = campaign.read_bytes()
    assert summary["n_treated"] == len(pd.read_csv(campaign)) > 0
    simulated = churn("data", "outcomes", "--campaign", "c1", "--config", str(config), cwd=tmp_path)
    assert simulated.returncode == 0, simulated.stderr
    drawn = pd.read_parquet(simulated.stdout.strip())
    assert len(drawn) == summary["n_scored"] and set(drawn["churned"]) == {0, 1}
    (campaign.parent / "outcomes.parquet").unlink()  # the listing below expects three files

    current = pd.read_parquet(tmp_path / "current.parquet")
    current.loc[2500, "customer_id"] = current.loc[10, "customer_id"]
    current.to_parquet(tmp_path / "current.parquet")
    again = churn(
        "score",
        "--config",
        str(config),
        "--campaign-id",
        "c1",
        cwd=tmp_path,
        api_url=prefect_backend,
    )
    assert_user_error(again, "current.parquet", "duplicate ids", current.loc[10, "customer_id"])
    assert campaign.read_bytes() == before
    assert sorted(p.name for p in campaign.parent.iterdir()) == [
        "assignment.parquet",
        "campaign.csv",
        "features.parquet",
        "scores.parquet",
    ]

    # Outcomes arrive: a bad file is refused, a good one gives realized ROI in the run.
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("customer_id,churned\nC0000001,maybe\n")
    bad = churn("roi", "--campaign", "c1", "--outcomes", str(outcomes), "--config", str(config),
                cwd=tmp_path, api_url=prefect_backend)  # fmt: skip
    assert_user_error(bad, "outcomes.csv", "'churned'", "'maybe'")
    assignment = pd.read_parquet(campaign.parent / "assignment.parquet")
    pd.DataFrame({"customer_id": assignment["customer_id"], "churned": 0}).to_csv(
        outcomes, index=False
    )
    measured = churn("roi", "--campaign", "c1", "--outcomes", str(outcomes), "--config",
                     str(config), "--json", cwd=tmp_path, api_url=prefect_backend)  # fmt: skip
    assert measured.returncode == 0, measured.stderr
    realized = json.loads(measured.stdout)
    assert realized["metrics"]["realized_customers_saved"] == 0
    assert realized["metrics"]["realized_roi_pct"] == -100
    assert "window" in realized["warnings"]  # no observed_at: read "now", before the window
    ledger = churn("campaigns", "--json", "--config", str(config), cwd=tmp_path)
    assert ledger.returncode == 0, ledger.stderr
    (c1,) = json.loads(ledger.stdout)
    assert (c1["campaign_id"], c1["status"], c1["realized_roi_pct"]) == ("c1", "measured", -100)
    assert c1["n_treated"] == realized["metrics"]["realized_n_treated"]
    unknown = churn("roi", "--campaign", "nope", "--outcomes", str(outcomes), "--config",
                    str(config), cwd=tmp_path, api_url=prefect_backend)  # fmt: skip
    assert_user_error(unknown, "has no campaign 'nope'", "recent campaigns: c1")

    # People compare runs and manage the registry from the terminal.
    listed = churn("runs", "--kind", "scoring", "--json", "--config", str(config), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["campaign_id"], row["model_version"]) == ("c1", "1")
    assert row["realized_roi_pct"] == -100
    # On a narrow terminal the table leaves columns out rather than cutting numbers.
    narrow = churn("runs", "--kind", "scoring", "--config", str(config), cwd=tmp_path, columns=72)
    assert narrow.returncode == 0, narrow.stderr
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 72
    assert "left out to fit: " in narrow.stdout
    low, high = row["realized_roi_pct_low"], row["realized_roi_pct_high"]
    assert f"-100 ({low:,.0f} to {high:,.0f})" in narrow.stdout, narrow.stdout
    nothing_before = churn("rollback", "--config", str(config), cwd=tmp_path)
    assert_user_error(nothing_before, "replaced no earlier champion")
    missing = churn("promote", "7", "--config", str(config), cwd=tmp_path)
    assert_user_error(missing, "has no version 7")


@pytest.mark.slow
def test_serve_registers_both_deployments_with_their_schedules(
    prefect_backend: str, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    config = write_config(tmp_path)
    text = (
        config.read_text() + "schedule:\n  scoring_cron: '15 5 * * *'\n  timezone: Europe/Paris\n"
    )
    config.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "MLFLOW_"))}
    env["PREFECT_API_URL"] = prefect_backend
    server = subprocess.Popen(
        [CHURN, "serve", "--config", str(config)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deployments = {}
        with get_client(sync_client=True) as client:
            for _ in range(120):
                found = client.read_deployments()
                deployments = {
                    d.name: d for d in found if d.name in {"weekly-retrain", "daily-scoring"}
                }
                if len(deployments) == 2 or server.poll() is not None:
                    break
                time.sleep(0.5)
        assert set(deployments) == {"weekly-retrain", "daily-scoring"}, server.poll()
        score = deployments["daily-scoring"]
        assert [s.schedule.cron for s in score.schedules] == ["15 5 * * *"]  # type: ignore[union-attr]
        assert score.schedules[0].schedule.timezone == "Europe/Paris"  # type: ignore[union-attr]
        train = deployments["weekly-retrain"]
        assert [s.schedule.cron for s in train.schedules] == ["0 3 * * 1"]  # type: ignore[union-attr]
        # The config's path, read by each run when it starts; not the settings.
        assert train.parameters == score.parameters == {"config": str(config.resolve())}
        assert train.global_concurrency_limit is not None
        assert train.global_concurrency_limit.limit == 1
    finally:
        server.terminate()
        server.wait(timeout=60)
        # The test backend is shared by the session: leave no deployment behind.
        with get_client(sync_client=True) as client:
            for deployment in client.read_deployments():
                if deployment.name in {"weekly-retrain", "daily-scoring"}:
                    client.delete_deployment(deployment.id)


@pytest.mark.slow
def test_ledger_problems_stop_scoring_before_anything_is_written(
    prefect_backend: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    raw = yaml.safe_load(config.read_text())

    # A ledger database that does not answer: one paragraph, no password, nothing written.
    raw["ledger"] = {"url": "postgresql+psycopg://churn:s3cret@127.0.0.1:9/ledger"}
    config.write_text(yaml.safe_dump(raw))
    down = churn("score", "--config", str(config), cwd=tmp_path, api_url=prefect_backend)
    assert_user_error(down, "campaign ledger at postgresql+psycopg://churn:***@127.0.0.1:9")
    assert "s3cret" not in down.stderr + down.stdout
    assert down.stderr.count("error: ") == 1
    assert not (tmp_path / "outputs").exists()

    # A suppression list without an id column names the file, the columns and the fix.
    optouts = tmp_path / "optouts.csv"
    optouts.write_text("email\na@example.com\n")
    raw["ledger"] = {"url": f"sqlite:///{tmp_path / 'ledger.db'}"}
    raw["contact"] = {"suppression_path": str(optouts)}
    config.write_text(yaml.safe_dump(raw))
    bad = churn("score", "--config", str(config), cwd=tmp_path, api_url=prefect_backend)
    assert_user_error(bad, "optouts.csv", "no customer id column", "['email']", "aliases")
    assert not (tmp_path / "outputs").exists()

    # Nothing was scored, so there is no ledger yet: `churn campaigns` says so, and
    # creates none. A campaign id is a name, never a path.
    listed = churn("campaigns", "--json", "--config", str(config), cwd=tmp_path)
    assert_user_error(listed, "no campaign ledger at sqlite:///", "score a campaign first")
    assert not (tmp_path / "ledger.db").exists()
    optouts.write_text("customer_id\nC0000001\n")
    escape = churn("score", "--config", str(config), "--campaign-id", "../../x", cwd=tmp_path,
                   api_url=prefect_backend)  # fmt: skip
    assert_user_error(escape, "'../../x' is not a valid name")
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "ledger.db").exists()
