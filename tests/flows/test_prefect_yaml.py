"""prefect.yaml declares the same deployments that `churn serve` serves."""

from importlib import import_module
from pathlib import Path

import yaml

from churn.settings import Settings, load_settings
from flows.retrain import SCORE_DEPLOYMENT, TRAIN_DEPLOYMENT

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_matches_the_served_deployments() -> None:
    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    by_name = {d["name"]: d for d in declared}
    assert set(by_name) == {TRAIN_DEPLOYMENT, SCORE_DEPLOYMENT}
    schedule = Settings().schedule
    assert by_name[TRAIN_DEPLOYMENT]["schedules"][0]["cron"] == schedule.training_cron
    assert by_name[SCORE_DEPLOYMENT]["schedules"][0]["cron"] == schedule.scoring_cron
    for deployment in declared:
        assert deployment["concurrency_limit"] == 1
        path, function = deployment["entrypoint"].split(":")
        module = import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, function)
        # The declared parameters validate against the flow's own signature, and name a
        # config file (read from the project folder, the pull step's working directory).
        assert set(deployment["parameters"]) == {"config"}
        flow.validate_parameters(deployment["parameters"])
        assert load_settings(ROOT / deployment["parameters"]["config"], environ={}) == Settings()
