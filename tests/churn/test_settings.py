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


def test_a_config_elsewhere_extends_the_projects_default_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no configs/ here, nor beside the config
    mine = tmp_path / "elsewhere" / "mine.yaml"
    mine.parent.mkdir()
    mine.write_text("extends: default.yaml\ncampaign:\n  threshold: 0.8\n")
    settings = load_settings(mine, environ={})
    assert settings.campaign.threshold == 0.8
    assert settings.economics == load_settings(ROOT / "configs" / "default.yaml").economics


def test_a_parent_found_nowhere_lists_the_places_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("extends: nowhere.yaml\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path / "mine.yaml", environ={})
    message = str(raised.value)
    assert "extends 'nowhere.yaml', which is not a file in any of" in message
    for place in (tmp_path / "nowhere.yaml", tmp_path / "configs" / "nowhere.yaml",
                  ROOT / "configs" / "nowhere.yaml"):  # fmt: skip
        assert str(place) in message


def test_inherited_constraints_on_another_dataset_say_how_to_clear_them(tmp_path: Path) -> None:
    (tmp_path / "gym.yaml").write_text(
        f"extends: {ROOT / 'configs' / 'default.yaml'}\n"
        "dataset:\n  name: gym\n  id: {column: member}\n"
        "  target: {column: left, churned: [Y], stayed: [N]}\n"
        "  numeric: {visits: {min: 0}}\n"
    )
    with pytest.raises(
        ConfigError, match=r"clear them with `model: \{monotone_constraints: \{\}\}`"
    ):
        load_settings(tmp_path / "gym.yaml", environ={})


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        pytest.param(
            "campaing:\n  threshold: 0.5\n",
            r"campaing: unknown key — did you mean 'campaign'\? \(valid keys: campaign, ",
            id="top-level",
        ),
        pytest.param(
            "extend: default.yaml\n",
            r"extend: unknown key — did you mean 'extends'\?",
            id="extends",
        ),
        pytest.param(
            "campaign:\n  treshold: 0.5\n",
            r"campaign\.treshold: unknown key — did you mean 'threshold'\? \(valid keys: "
            r"chunk_size, control_share, dask_address, dask_workers, output_dir, runner, "
            r"threshold\)",
            id="nested",
        ),
        pytest.param(
            "economics:\n  CLV: 1000\n",
            r"economics\.CLV: unknown key — did you mean 'clv'\?",
            id="case-only",
        ),
        pytest.param(
            "dataset:\n  numeric:\n    tenure_months: {min: 0, integr: true}\n",
            r"dataset\.numeric\.tenure_months\.integr: unknown key — did you mean 'integer'\? "
            r"\(valid keys: aliases, fill, integer, max, min, missing, nullable\)",
            id="dataset-column",
        ),
        pytest.param(
            "dataset:\n  customer_value: {revenue_column: monthly_revenue, lifetime_month: 24}\n",
            r"dataset\.customer_value\.lifetime_month: unknown key — did you mean "
            r"'lifetime_months'\?",
            id="dataset-optional-section",
        ),
    ],
)
def test_a_misspelled_key_is_answered_with_the_closest_valid_one(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    (tmp_path / "mine.yaml").write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path / "mine.yaml", environ={})


def test_a_key_with_no_close_match_lists_the_valid_keys(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("campaign:\n  colour: red\n")
    with pytest.raises(
        ConfigError,
        match=r"invalid: campaign\.colour: unknown key \(valid keys: chunk_size, control_share, "
        r"dask_address, dask_workers, output_dir, runner, threshold\)\.$",
    ):
        load_settings(tmp_path / "mine.yaml", environ={})
