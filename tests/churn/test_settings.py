from pathlib import Path

import pytest

from churn.errors import ConfigError
from churn.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_code_defaults_are_the_default_config() -> None:
    # prefect.yaml's deployments pass `settings: {}` and rely on this.
    assert load_settings(ROOT / "configs" / "default.yaml", environ={}) == Settings()


def test_extends_overrides_section_by_section(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("campaign:\n  threshold: 0.6\n  control_share: 0.2\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\ncampaign:\n  threshold: 0.8\n")
    settings = load_settings(tmp_path / "child.yaml", environ={})
    assert settings.campaign.threshold == 0.8
    assert settings.campaign.control_share == 0.2


def test_environment_overrides_the_tracking_uri(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"})
    assert settings.tracking.uri == "http://127.0.0.1:5000"


def test_extends_cycle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="extends itself"):
        load_settings(tmp_path / "a.yaml", environ={})
