"""Seeded fault injection: scoring and training are killed with SIGKILL at random
instants, and after the next command the stores are consistent.

The instants are *checkpoints* — each file or folder moved into place, each database
commit (the ledger's, the MLflow store's), each MLflow client call — counted in an
uninterrupted run, then drawn at random, one from each stretch of the run so that every
step is hit (tests/flows/command_server.py does the killing). After each kill the next
command (``churn runs``) runs, and then:

- no MLflow run is left RUNNING (the dead process's run is FAILED, with the reason);
- no temporary file or folder is left anywhere (campaign folders, compiled-tree cache,
  the commands' scratch folders);
- the campaign's files are each whole and written from the ledger's record; the run the
  ledger names is tagged with the campaign and, if it finished, holds the same list;
- the registry has exactly one champion, which is not also the challenger, carries the
  record of its promotion, and loads and scores.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from churn.ledger import Ledger
from churn.settings import load_settings
from flows import runs
from tests.flows.test_cli import synthetic_config

pytestmark = pytest.mark.slow

SEED = 15
SCORING_INSTANTS = 10
TRAINING_INSTANTS = 11


@dataclass(frozen=True)
class Outcome:
    status: int  # -9: killed
    passed: list[str]  # the checkpoints passed, by name
    output: str

    @property
    def checkpoints(self) -> int:
        return len(self.passed)


class Commands:
    """``churn`` commands run by one command server (tests/flows/command_server.py)."""

    def __init__(self, root: Path, api_url: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
        env |= {"PREFECT_API_URL": api_url, "XDG_CACHE_HOME": str(root / "cache")}
        self.root = root
        self.n = 0
        self.server = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("command_server.py"))],
            cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert json.loads(self._answer(240)) == {"ready": True}

    def _answer(self, timeout: float) -> str:
        assert self.server.stdout is not None
        readable, _, _ = select.select([self.server.stdout], [], [], timeout)
        assert readable, f"no answer from the command server in {timeout} s"
        return self.server.stdout.readline()

    def run(self, *args: str | Path, kill_at: int | None = None) -> Outcome:
        assert self.server.stdin is not None
        self.n += 1
        log = self.root / f"command-{self.n}.log"
        request = {"args": [str(a) for a in args], "cwd": str(self.root), "log": str(log),
                   "kill_at": kill_at}  # fmt: skip
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        answer = json.loads(self._answer(300))
        return Outcome(answer["status"], answer["checkpoints"], log.read_text())

    def close(self) -> None:
        self.server.kill()
        self.server.wait()


def instants(rng: random.Random, checkpoints: int, count: int) -> list[int]:
    """``count`` checkpoints drawn at random, one from each of ``count`` equal stretches."""
    edges = [1 + round(i * (checkpoints - 1) / count) for i in range(count + 1)]
    return [rng.randrange(lo, max(lo + 1, hi)) for lo, hi in itertools.pairwise(edges)]


def assert_nothing_running(client: MlflowClient, why: str) -> None:
    experiments = [e.experiment_id for e in client.search_experiments()]
    running = client.search_runs(experiments, "attributes.status = 'RUNNING'")
    assert not running, (why, [(r.info.run_name, r.data.tags) for r in running])
    for run in client.search_runs(experiments, "attributes.status = 'FAILED'"):
        assert "killed?" in run.data.tags["failed.reason"], (why, run.data.tags)


def assert_no_temporaries(root: Path, why: str) -> None:
    left = [p.relative_to(root) for p in root.rglob("*.tmp")]
    assert not left, (why, left)


def assert_campaign_consistent(
    client: MlflowClient, ledger_url: str, folder: Path, campaign_id: str, why: str
) -> None:
    files = {p.name: p for p in folder.iterdir()} if folder.is_dir() else {}
    for name, path in files.items():  # each file whole
        (pd.read_csv if name.endswith(".csv") else pd.read_parquet)(path)
    with Ledger.open(ledger_url) as ledger:
        recorded = ledger.campaigns(campaign_id=campaign_id)
        decisions = ledger.contacts(campaign_id) if recorded else None
    if "campaign.csv" in files or "assignment.parquet" in files:
        assert recorded, (why, "files written without the ledger's record", sorted(files))
    if "assignment.parquet" in files:
        assert decisions is not None
        assignment = pd.read_parquet(files["assignment.parquet"])
        assert sorted(assignment["customer_id"]) == sorted(decisions["customer_id"]), why
    if recorded and recorded[0].mlflow_run_id is not None:
        run = client.get_run(recorded[0].mlflow_run_id)
        assert run.info.status in ("FINISHED", "FAILED"), why
        assert run.data.tags["campaign_id"] == campaign_id, why
        if run.info.status == "FINISHED":  # a failed one may have died before logging it
            logged = Path(client.download_artifacts(run.info.run_id, "campaign/campaign.csv"))
            assert logged.read_bytes() == files["campaign.csv"].read_bytes(), why


def assert_one_champion_that_loads(
    client: MlflowClient, name: str, before: str, customers: pd.DataFrame, why: str
) -> str:
    from flows import registry

    aliases = client.get_registered_model(name).aliases  # alias -> version: one each
    assert "champion" in aliases, (why, aliases)
    assert aliases.get("challenger") != aliases["champion"], (why, aliases)
    champion = client.get_model_version(name, aliases["champion"])
    if str(champion.version) != before:  # replaced: with the record of why
        assert champion.tags.get("promoted_from") == before, (why, champion.tags)
        assert champion.tags.get("promotion_reason"), (why, champion.tags)
    loaded = registry.load_champion(client, name=name)
    scores = loaded.model.predict_proba(customers)
    assert len(scores) == len(customers) and ((scores >= 0) & (scores <= 1)).all(), why
    return str(champion.version)


def retrain_config(config: Path, *, variant: int) -> Path:
    """The config, with other trees (the same split) and a challenger promoted unless far
    worse."""
    data = yaml.safe_load(config.read_text())
    data["model"]["learning_rate"] = 0.06 + 0.002 * variant
    data["promotion"] = {"auc_tolerance": 0.2, "roi_tolerance": 0.9}
    changed = config.with_name(f"retrain-{variant}.yaml")
    changed.write_text(yaml.safe_dump(data))
    return changed


@pytest.fixture
def commands(tmp_path: Path, prefect_backend: str) -> Commands:
    started = Commands(tmp_path, prefect_backend)
    yield started
    started.close()


def test_killed_at_random_instants_the_next_command_leaves_the_stores_consistent(
    tmp_path: Path, commands: Commands
) -> None:
    config = synthetic_config(tmp_path, customers=3000)
    data = yaml.safe_load(config.read_text())
    data["model"]["n_estimators"] = 60  # fewer trees to grow and compile: the same steps
    config.write_text(yaml.safe_dump(data))
    settings = load_settings(config)
    client = runs.client_for(settings.tracking)  # as the commands make theirs
    name = settings.model.registered_name
    rng = random.Random(SEED)
    assert commands.run("retrain", "--config", config).status == 0  # the champion, v1
    # Uninterrupted runs count each command's checkpoints (a new campaign, a retrain).
    scored = commands.run("score", "--config", config, "--campaign-id", "whole")
    assert scored.status == 0, scored.output
    customers = pd.read_parquet(settings.data.scoring_path).head(200)
    kills = 0

    for i, kill_at in enumerate(instants(rng, scored.checkpoints, SCORING_INSTANTS)):
        campaign_id = f"killed-{i}"
        why = f"scoring killed after {kill_at}: {scored.passed[kill_at - 1]} ({scored.checkpoints})"
        print(why)  # the instants drawn, shown with a failure
        killed = commands.run("score", "--config", config, "--campaign-id", campaign_id,
                              kill_at=kill_at)  # fmt: skip
        assert killed.status == -9, (why, killed.output[-3000:])
        kills += 1
        following = commands.run("runs", "--config", config, "--kind", "scoring", "--json")
        assert following.status == 0, following.output[-3000:]
        assert_nothing_running(client, why)
        assert_no_temporaries(tmp_path, why)
        folder = settings.campaign.output_dir / campaign_id
        assert_campaign_consistent(client, settings.ledger.url, folder, campaign_id, why)

    # Each retrain grows other trees and wins: a promotion to be killed in.
    retrained = commands.run("retrain", "--config", retrain_config(config, variant=0))
    assert retrained.status == 0, retrained.output
    assert "promoted" in retrained.output, retrained.output[-3000:]
    champion = assert_one_champion_that_loads(client, name, "1", customers, "after a retrain")
    assert champion == "2"
    for i, kill_at in enumerate(instants(rng, retrained.checkpoints, TRAINING_INSTANTS)):
        why = f"training killed after {kill_at}: {retrained.passed[kill_at - 1]}"
        print(why)
        changed = retrain_config(config, variant=1 + i)
        killed = commands.run("retrain", "--config", changed, kill_at=kill_at)
        # A challenger that is kept passes fewer checkpoints (no promotion): it may end first.
        assert killed.status == -9 or (killed.status == 0 and killed.checkpoints < kill_at), (
            why, killed.output[-3000:])  # fmt: skip
        kills += killed.status == -9
        following = commands.run("runs", "--config", config, "--json")
        assert following.status == 0, following.output[-3000:]
        assert_nothing_running(client, why)
        assert_no_temporaries(tmp_path, why)
        champion = assert_one_champion_that_loads(client, name, champion, customers, why)
    assert kills >= 20
