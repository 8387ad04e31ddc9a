"""The real flows, against a temporary Prefect backend and a temporary MLflow store."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from churn.metric_docs import describe_metric
from churn.settings import Settings
from tests.browser import mlflow_ui, page_text
from tests.conftest import make_settings

pytestmark = pytest.mark.slow


def _client(settings: Settings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.tracking.uri, registry_uri=settings.tracking.uri)


def artifacts_of(client: MlflowClient, run_id: str, path: str) -> set[str]:
    return {a.path for a in client.list_artifacts(run_id, path)}


def _runs(client: MlflowClient, experiment: str) -> list:  # type: ignore[type-arg]
    exp = client.get_experiment_by_name(experiment)
    return [] if exp is None else client.search_runs([exp.experiment_id])


def test_pipeline_end_to_end(prefect_backend: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        _pipeline_end_to_end(tmp_path, stack)


def _pipeline_end_to_end(tmp_path: Path, stack: ExitStack) -> None:
    from flows.pipeline import pipeline_flow
    from flows.train import train_flow

    settings = make_settings(tmp_path)
    result = pipeline_flow(settings, campaign_id="e2e-1")
    # Started now, the MLflow UI is up by the end of the test (it takes 10-25 s).
    ui = stack.enter_context(mlflow_ui(settings.tracking.uri, settings.tracking.artifact_dir))
    client = _client(settings)
    # The MLflow UI opens both experiments on their runs, not on its GenAI traces page.
    for name in (settings.tracking.training_experiment, settings.tracking.scoring_experiment):
        tags = client.get_experiment_by_name(name).tags
        assert tags.get("mlflow.experimentKind") == "custom_model_development", name
        assert tags["mlflow.note.content"].startswith("One run per "), name  # described

    # One training run holds both model quality and money.
    (train_run,) = _runs(client, settings.tracking.training_experiment)
    # Runs are named after what they are and the Prefect flow run that made them.
    flow_run_name = train_run.data.tags["prefect.flow_run_name"]
    # (a training run after the version it registered, once registered).
    trained_on = datetime.fromtimestamp(train_run.info.start_time / 1000, UTC)
    assert train_run.info.run_name == f"train v1 {trained_on:%Y-%m-%d} · {flow_run_name}"
    (scoring_run,) = _runs(client, settings.tracking.scoring_experiment)
    assert scoring_run.info.run_name.startswith("e2e-1 · ")
    metrics = train_run.data.metrics
    for name in (
        "auc",
        "pr_auc",
        "brier",
        "ece",
        "baseline_auc",
        "baseline_ece",
        "log_loss",
        "precision_at_threshold",
        "recall_at_threshold",
        "n_flagged",
        "roi_pct",
        "net_benefit",
        "revenue_saved",
        "campaign_cost",
        "customers_saved",
    ):
        assert name in metrics, name
    assert 0.8 <= metrics["auc"] <= 0.92
    assert metrics["campaign_cost"] == metrics["n_flagged"] * 50
    assert metrics["net_benefit"] == pytest.approx(
        metrics["revenue_saved"] - metrics["campaign_cost"]
    )
    assert train_run.data.params["threshold"] == "0.7"
    assert train_run.data.tags["prefect.flow_run_id"]
    assert train_run.data.tags["run_type"] == "training"
    assert train_run.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(train_run.info.run_id, "plots")}
    assert "plots/roc_curve.png" in artifacts and "plots/calibration_curve.png" in artifacts
    assert "plots/confusion_matrix.png" in artifacts and "plots/feature_importance.png" in artifacts
    roc = client.download_artifacts(train_run.info.run_id, "plots/roc_curve.png", str(tmp_path))
    assert Path(roc).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")  # drawn in the side process
    assert metrics["ece"] < 0.05  # calibrated
    assert "cv_auc" not in metrics  # cv_folds 0: not run
    card = client.download_artifacts(train_run.info.run_id, "model_card.md", str(tmp_path))
    assert "Dataset `synthetic`" in Path(card).read_text()

    # The registry: version 1 is the champion, and it loads and predicts on raw customers.
    champion = client.get_model_version_by_alias("churn-model", "champion")
    assert str(champion.version) == "1" and champion.run_id == train_run.info.run_id
    mlflow.set_tracking_uri(settings.tracking.uri)
    loaded = mlflow.pyfunc.load_model("models:/churn-model@champion")
    current = pd.read_parquet(settings.data.scoring_path)
    probabilities = loaded.predict(current)

    # Exactly the customers above the threshold are flagged; the campaign file
    # holds those of them not held out as the control group.
    above = set(current.loc[probabilities > 0.7, "customer_id"])
    assignment = pd.read_parquet(result["scoring"]["assignment_path"])
    assert len(above) > 0 and set(assignment["customer_id"]) == above
    control = set(assignment.loc[assignment["group"] == "control", "customer_id"])
    assert 0 < len(control) < len(above) * 0.2
    campaign = pd.read_csv(result["scoring"]["campaign_path"], dtype={"customer_id": str})
    assert set(campaign["customer_id"]) == above - control
    assert set(campaign["campaign_id"]) == {"e2e-1"}
    assert set(campaign["model_version"].astype(str)) == {"1"}

    (score_run,) = _runs(client, settings.tracking.scoring_experiment)
    score = score_run.data.metrics
    assert score["n_scored"] == len(current)
    assert score["n_flagged"] == len(above)
    assert (score["n_treated"], score["n_control"]) == (len(campaign), len(control))
    assert score["expected_roi_pct"] > 0
    assert score["expected_full_cost_roi_pct"] < score["expected_roi_pct"]
    assert score_run.data.tags["model_version"] == "1"
    # Trained without compiling (the test default): scoring says it fell back, and why.
    assert score_run.data.tags["scoring.engine"] == "lightgbm"
    assert "no compiled trees" in score_run.data.tags["scoring.engine_note"]
    assert score_run.data.tags["prefect.flow_run_id"] != train_run.data.tags["prefect.flow_run_id"]
    logged = {a.path for a in client.list_artifacts(score_run.info.run_id, "campaign")}
    assert logged == {"campaign/campaign.csv", "campaign/assignment.parquet"}
    control_file = client.download_artifacts(
        score_run.info.run_id, "campaign/assignment.parquet", str(tmp_path)
    )
    logged_assignment = pd.read_parquet(control_file)
    assert set(logged_assignment.loc[logged_assignment["group"] == "control", "customer_id"]) == (
        control
    )

    # The closed loop: simulated outcomes, realized ROI with its interval, in the same run.
    for name in (
        "realized_roi_pct",
        "realized_roi_pct_low",
        "realized_roi_pct_high",
        "realized_customers_saved",
        "realized_net_benefit",
        "realized_full_cost_roi_pct",
        "minimum_detectable_effect",
        "realized_minus_expected_roi_pct",
    ):
        assert name in score, name
    assert (
        score["realized_roi_pct_low"] <= score["realized_roi_pct"] <= score["realized_roi_pct_high"]
    )
    assert score["realized_n_control"] == len(control)
    outcomes = pd.read_parquet(
        result["scoring"]["campaign_path"].replace("campaign.csv", "outcomes.parquet")
    )
    merged = outcomes.merge(assignment, on="customer_id")
    treated_rate = merged.loc[merged["group"] == "treatment", "churned"].mean()
    assert score["realized_treated_churn_rate"] == pytest.approx(treated_rate)
    assert score_run.data.tags.get("realized.status") == "measured"
    # One measured campaign so far: cumulative net = its net benefit − fixed costs.
    assert score["campaigns_measured"] == 1
    assert score["cumulative_net_benefit"] == pytest.approx(
        score["realized_net_benefit"] - settings.costs.fixed_per_campaign
    )
    assert "realized.warning.window" not in score_run.data.tags
    plots = {a.path for a in client.list_artifacts(score_run.info.run_id, "plots")}
    assert "plots/uplift_qini.png" in plots

    # Every metric logged is in the catalogue behind docs/metrics.md.
    for name in [*metrics, *score]:
        describe_metric(name)

    # The money answer is the run's description, in dollars with its interval, and the
    # table read is its input dataset.
    headline = score_run.data.tags["mlflow.note.content"]
    realized = (
        f"${score['realized_net_benefit']:,.0f} (${score['realized_net_benefit_low']:,.0f} to "
        f"${score['realized_net_benefit_high']:,.0f}) net, realized ROI "
        f"{score['realized_roi_pct']:,.0f} % ({score['realized_roi_pct_low']:,.0f} % to "
        f"{score['realized_roi_pct_high']:,.0f} %)"
    )
    assert headline.startswith(f"**Campaign e2e-1 made {realized}, 95 % intervals.")
    assert f"| customers contacted | {len(campaign):,} | {len(campaign):,} |" in headline
    (scored,) = score_run.inputs.dataset_inputs
    assert scored.dataset.digest == score_run.data.tags["dataset_digest"]
    assert scored.tags[0].value == "scoring" and f'"num_rows": {len(current)}' in (
        scored.dataset.profile
    )
    report = client.download_artifacts(score_run.info.run_id, "campaign_report.html", str(tmp_path))
    assert "It paid for itself" in Path(report).read_text()  # the default world's campaign pays
    (trained,) = train_run.inputs.dataset_inputs
    assert trained.dataset.digest == train_run.data.tags["dataset_digest"]
    assert train_run.data.tags["mlflow.note.content"].startswith(
        f"**churn-model v1 is the champion: AUC {metrics['auc']:.4f}"
    )
    assert (
        client.get_model_version("churn-model", "1").description
        == (train_run.data.tags["mlflow.note.content"])
    )

    # A retrain on the same data makes the same model: it says so and keeps the champion.
    again = train_flow(settings)
    assert (again["model_version"], again["registry_alias"]) == ("2", "challenger")
    assert again["promotion_reason"] == (
        "kept the champion: the challenger is identical to it (the same scores on all "
        f"{train_run.data.params['n_test']} test customers)"
    )
    champion = client.get_model_version_by_alias("churn-model", "champion")
    assert str(champion.version) == "1"
    retrain_run = client.get_run(again["mlflow_run_id"]).data
    assert retrain_run.tags["promotion.decision"] == "kept"
    assert retrain_run.metrics["champion_auc"] == retrain_run.metrics["auc"]
    kept = client.get_model_version("churn-model", "2")
    assert kept.tags["promotion.decision"] == "kept"
    assert kept.tags["identical_to_champion"] == "true"
    assert kept.tags["promotion.reason"] == again["promotion_reason"]
    assert kept.description.startswith("**churn-model v2 is the challenger")

    # In a real browser, the scoring run's page shows the realized ROI without a search.
    page = f"{ui.url()}/#/experiments/{score_run.info.experiment_id}/runs/{score_run.info.run_id}"
    text = page_text(page, wait_for=f"Campaign e2e-1 made ${score['realized_net_benefit']:,.0f}")
    assert realized in text and "It paid for itself." in text


def _good_rows(n: int = 200) -> pd.DataFrame:
    from datetime import date

    from churn.synthetic import generate_world

    return generate_world(n, seed=3, as_of=date(2026, 6, 30)).customers


def _write_bad(kind: str, path: Path) -> None:
    rows = _good_rows()
    if kind == "missing file":
        return
    if kind == "empty file":
        path.write_bytes(b"")
    elif kind == "truncated file":
        rows.to_parquet(path)
        path.write_bytes(path.read_bytes()[:300])
    else:
        if kind == "misspelled column":
            rows = rows.rename(columns={"usage_frequency": "usage_frequncy"})
        elif kind == "wrong type":
            rows = rows.astype({"tenure_months": str})
            rows.loc[17, "tenure_months"] = "two years"
        elif kind == "null id":
            rows.loc[5, "customer_id"] = None
        elif kind == "duplicate id":
            rows.loc[9, "customer_id"] = rows.loc[8, "customer_id"]
        elif kind == "out of range":
            rows.loc[12, "support_tickets_open"] = -3
        rows.to_parquet(path)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("missing file", "does not exist"),
        ("empty file", "is empty"),
        ("truncated file", "cannot be read as parquet"),
        ("misspelled column", "'usage_frequncy' a misspelling"),
        ("wrong type", "'tenure_months' fails expected type"),
        ("null id", "'customer_id'"),
        ("duplicate id", "duplicate value"),
        ("out of range", "'support_tickets_open' fails greater_than_or_equal_to(0)"),
    ],
)
def test_bad_training_data_writes_and_registers_nothing(
    prefect_backend: str, tmp_path: Path, kind: str, expected: str
) -> None:
    from churn.errors import InputError
    from flows.train import train_flow

    settings = make_settings(tmp_path, source="files")
    settings.data.training_path.parent.mkdir(parents=True)
    _write_bad(kind, settings.data.training_path)
    with pytest.raises(InputError) as info:
        train_flow(settings)
    assert str(settings.data.training_path) in str(info.value)
    assert expected in str(info.value)
    client = _client(settings)
    assert _runs(client, settings.tracking.training_experiment) == []
    assert client.search_registered_models() == []
    assert not settings.tracking.artifact_dir.exists()


def test_a_plot_that_fails_fails_the_run_before_registration(
    prefect_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import runs
    from flows.train import train_flow

    def disk_full(*args: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(runs, "log_figures", disk_full)
    settings = make_settings(tmp_path)
    with pytest.raises(OSError, match="No space left"):
        train_flow(settings)
    client = _client(settings)
    (run,) = _runs(client, settings.tracking.training_experiment)
    assert run.info.status == "FAILED"
    assert client.search_registered_models() == []


def test_a_scoring_run_that_fails_ends_failed_and_is_not_retried(
    prefect_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from churn.ledger import Ledger
    from flows import runs
    from flows.score import score_flow
    from flows.train import train_flow

    settings = make_settings(tmp_path)
    train_flow(settings)

    def store_gone(*args: object) -> None:
        raise OSError("connection reset by the tracking server")

    monkeypatch.setattr(runs, "log_metrics", store_gone)
    with pytest.raises(OSError, match="connection reset"):
        score_flow(settings, campaign_id="fails-1")
    # One run (a retried write would have opened three), ended FAILED, not RUNNING.
    (run,) = _runs(_client(settings), settings.tracking.scoring_experiment)
    assert run.info.status == "FAILED"
    assert run.data.tags["campaign_id"] == "fails-1"
    # The campaign recorded before the failure stays recorded, linked to that run.
    with Ledger.open(settings.ledger.url, must_exist=True) as ledger:
        assert ledger.campaign("fails-1").mlflow_run_id == run.info.run_id


def test_scoring_without_a_champion_says_so(prefect_backend: str, tmp_path: Path) -> None:
    from churn.errors import NotReadyError
    from flows.score import score_flow

    settings = make_settings(tmp_path)
    with pytest.raises(
        NotReadyError, match="No 'champion' version of registered model 'churn-model'"
    ):
        score_flow(settings)
    assert not settings.campaign.output_dir.exists()


def test_campaign_without_control_group_is_not_measurable(
    prefect_backend: str, tmp_path: Path
) -> None:
    from churn.errors import NotMeasurableError
    from churn.settings import CampaignSettings
    from flows.measure import realized_roi_flow
    from flows.pipeline import pipeline_flow

    base = make_settings(tmp_path)
    settings = base.model_copy(
        update={
            "campaign": CampaignSettings(
                output_dir=tmp_path / "outputs", chunk_size=1000, control_share=0.0
            )
        }
    )
    result = pipeline_flow(settings, campaign_id="all-in")
    assert result["scoring"]["n_control"] == 0 and "realized" not in result
    outcomes = tmp_path / "outcomes.csv"
    assignment = pd.read_parquet(result["scoring"]["assignment_path"])
    pd.DataFrame({"customer_id": assignment["customer_id"], "churned": 1}).to_csv(outcomes)
    with pytest.raises(
        NotMeasurableError, match=r"not measurable: the campaign has no control group"
    ):
        realized_roi_flow(settings, "all-in", outcomes)
    (run,) = _runs(_client(settings), settings.tracking.scoring_experiment)
    assert not any(k.startswith("realized_") for k in run.data.metrics)


def test_the_compiled_champion_scores_exactly_like_lightgbm(
    prefect_backend: str, tmp_path: Path
) -> None:
    import numpy as np

    from churn.data import load_customers
    from flows.score import score_flow
    from flows.train import train_flow

    settings = make_settings(tmp_path, compile=True)
    training = train_flow(settings)
    client = _client(settings)
    train_run = client.get_run(training["mlflow_run_id"])
    assert train_run.data.tags["compiled"] == "lleaves"
    assert train_run.data.metrics["compile_seconds"] > 0
    assert {"compiled/model.txt", "compiled/model.so"} <= artifacts_of(
        client, train_run.info.run_id, "compiled"
    )

    scoring = score_flow(settings, campaign_id="compiled-1")
    (score_run,) = _runs(client, settings.tracking.scoring_experiment)
    assert score_run.data.tags["scoring.engine"] == "lleaves"
    scores = pd.read_parquet(tmp_path / "outputs" / "compiled-1" / "scores.parquet")
    assert len(scores) == scoring["n_scored"]
    # The registered model without its compiled trees: LightGBM's own predict.
    native = mlflow.pyfunc.load_model(training["model_uri"]).unwrap_python_model().model
    assert native.engine == "lightgbm"
    current = load_customers(settings.data.scoring_path, labelled=False)
    np.testing.assert_allclose(
        scores["churn_probability"].to_numpy(), native.predict_proba(current), atol=1e-9, rtol=0
    )


def test_a_threshold_that_contacts_nobody_is_said_in_the_training_run(
    prefect_backend: str, tmp_path: Path
) -> None:
    from flows.train import train_flow

    base = make_settings(tmp_path)
    settings = base.model_copy(
        update={"campaign": base.campaign.model_copy(update={"threshold": 0.999})}
    )
    result = train_flow(settings)
    run = _client(settings).get_run(result["mlflow_run_id"])
    advice = run.data.tags["threshold.advice"]
    assert advice.startswith("No test customer scores above the 0.999 threshold")
    assert "set `campaign: {threshold: " in advice
    assert f"**Threshold:** {advice}." in run.data.tags["mlflow.note.content"]
