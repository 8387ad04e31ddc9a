from datetime import date
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import BaseModel

from churn.dataset import DatasetSettings
from churn.errors import ConfigError
from churn.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "configs" / "default.yaml"


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
        "dataset: !replace\n  name: gym\n  id: {column: member}\n"
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
            r"chunk_size, control_share, dask_address, dask_workers, exploration_share, "
            r"output_dir, runner, targeting, "
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
            r"\(valid keys: aliases, fill, integer, max, min, missing, nullable, role\)",
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
        r"dask_address, dask_workers, exploration_share, output_dir, runner, targeting, "
        r"threshold\)\.$",
    ):
        load_settings(tmp_path / "mine.yaml", environ={})


def _dataset(tmp_path: Path, text: str, *, extends: Path | str = DEFAULT) -> DatasetSettings:
    (tmp_path / "child.yaml").write_text(f"extends: {extends}\n{text}")
    return load_settings(tmp_path / "child.yaml", environ={}).dataset


SYNTHETIC = DatasetSettings()


def test_a_dataset_section_changes_only_the_keys_it_names(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path, "dataset: {numeric: {usage_frequency: {min: 1, nullable: true}}}")
    usage = dataset.numeric["usage_frequency"]
    assert (usage.min, usage.nullable) == (1, True)
    assert (
        usage.model_copy(update={"min": 0, "nullable": False})
        == (SYNTHETIC.numeric["usage_frequency"])
    )
    others = {n: c for n, c in dataset.numeric.items() if n != "usage_frequency"}
    assert others == {n: c for n, c in SYNTHETIC.numeric.items() if n != "usage_frequency"}
    assert dataset.model_copy(update={"numeric": SYNTHETIC.numeric}) == SYNTHETIC


def test_a_dataset_section_adds_columns_and_aliases(tmp_path: Path) -> None:
    dataset = _dataset(
        tmp_path,
        "dataset:\n"
        "  numeric: {discount: {min: 0, max: 1}, tenure_months: {aliases: [tenure]}}\n"
        "  target: {aliases: [Churn]}\n",
    )
    assert dataset.features == (*SYNTHETIC.features[:6], "discount", "plan")
    assert dataset.numeric["discount"].max == 1
    assert dataset.numeric["tenure_months"].aliases == ["tenure"]
    assert dataset.numeric["tenure_months"].integer  # inherited beside the new alias
    assert dataset.target.aliases == ["Churn"] and dataset.target.churned == [1]


def test_a_list_replaces_the_parents_and_drop_adds_to_it(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(
        f"extends: {DEFAULT}\n"
        "dataset:\n"
        "  numeric: {tenure_months: {aliases: [tenure, months]}}\n"
        "  categorical: {plan: {levels: [basic, standard, premium], replace: {Basic: basic}}}\n"
        "  drop: [notes]\n"
    )
    dataset = _dataset(
        tmp_path,
        "dataset:\n"
        "  numeric: {tenure_months: {aliases: [tenure_m]}}\n"
        "  categorical: {plan: {levels: [basic, premium], replace: {PREMIUM: premium}}}\n"
        "  drop: [email]\n",
        extends="parent.yaml",
    )
    assert dataset.numeric["tenure_months"].aliases == ["tenure_m"]
    assert dataset.categorical["plan"].levels == ["basic", "premium"]
    # A mapping merges, whatever key it sits under.
    assert dataset.categorical["plan"].replace == {"Basic": "basic", "PREMIUM": "premium"}
    assert dataset.drop == ["notes", "email"]


def test_drop_removes_a_parents_column_and_declaring_it_again_brings_it_back(
    tmp_path: Path,
) -> None:
    (tmp_path / "parent.yaml").write_text(
        f"extends: {DEFAULT}\ndataset: {{drop: [plan, usage_frequency]}}\n"
    )
    parent = load_settings(tmp_path / "parent.yaml", environ={}).dataset
    assert "plan" not in parent.features and "usage_frequency" not in parent.features
    assert parent.drop == ["plan", "usage_frequency"]
    # Declared again (here under another kind), a column leaves the inherited drop.
    dataset = _dataset(
        tmp_path, "dataset: {categorical: {usage_frequency: {}}}", extends="parent.yaml"
    )
    assert "usage_frequency" in dataset.categorical and "usage_frequency" not in dataset.numeric
    assert dataset.drop == ["plan"]
    # A column moved to another kind leaves the one it was in.
    moved = _dataset(tmp_path, "dataset: {categorical: {tenure_months: {}}}")
    assert "tenure_months" in moved.categorical and "tenure_months" not in moved.numeric


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param(
            "dataset: {drop: [snapshot_date]}",
            r"days_between\.days_since_last_purchase: 'snapshot_date' is not a declared date "
            r"\('snapshot_date' is dropped; add `dataset: \{drop: \[days_since_last_purchase\]\}` "
            r"too\)",
            id="derived",
        ),
        pytest.param(
            "dataset: {drop: [snapshot_date, days_since_last_purchase]}",
            r"dates\.last_purchase_date\.not_after: 'snapshot_date' is not a date "
            r"\('snapshot_date' is dropped; add "
            r"`dataset: \{dates: \{last_purchase_date: \{not_after: null\}\}\}` too",
            id="check",
        ),
        pytest.param(
            "dataset: {drop: [monthly_revenue], customer_value: "
            "{revenue_column: monthly_revenue, lifetime_months: 12}}",
            r"'monthly_revenue' is not a numeric column \('monthly_revenue' is dropped; add "
            r"`dataset: \{customer_value: null\}` too\)",
            id="value",
        ),
        pytest.param(
            "dataset: {numeric: {discount: {}}, drop: [discount]}",
            r"columns \['discount'\] are both declared and listed in drop",
            id="declared-and-dropped",
        ),
        pytest.param(
            "dataset: {replace: true, name: gym}",
            r"dataset\.replace: unknown key — to replace what this config extends, tag the mapping "
            r"instead: `dataset: !replace` followed by all it declares",
            id="replace-key",
        ),
    ],
)
def test_what_a_merged_declaration_leaves_dangling_is_a_config_error_with_its_fix(
    tmp_path: Path, section: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _dataset(tmp_path, section)


def test_the_fix_a_dangling_name_asks_for_loads(tmp_path: Path) -> None:
    dataset = _dataset(
        tmp_path,
        "dataset:\n  drop: [snapshot_date, days_since_last_purchase]\n"
        "  dates: {last_purchase_date: {not_after: null}}\n",
    )
    assert dataset.dates == {"last_purchase_date": SYNTHETIC.dates["last_purchase_date"].model_copy(
        update={"not_after": None}
    )}  # fmt: skip
    assert "days_since_last_purchase" not in dataset.features


def test_replace_tags_any_mapping_of_the_declaration(tmp_path: Path) -> None:
    dataset = _dataset(
        tmp_path,
        "dataset:\n"
        "  numeric: !replace {support_tickets_open: {min: 0}}\n"
        "  categorical: {plan: !replace {levels: [basic]}}\n",
    )
    assert list(dataset.numeric) == ["support_tickets_open"]
    assert not dataset.numeric["support_tickets_open"].integer  # not inherited
    assert dataset.categorical["plan"].levels == ["basic"]
    assert dataset.dates == SYNTHETIC.dates
    # Another section tagged: what it leaves out takes its default, not the parent's.
    (tmp_path / "model.yaml").write_text(
        f"extends: {ROOT / 'configs' / 'telco.yaml'}\n"
        "model: !replace {cv_folds: 3, monotone_constraints: {}}\n"
    )
    model = load_settings(tmp_path / "model.yaml", environ={}).model
    assert model == Settings().model.model_copy(update={"cv_folds": 3, "monotone_constraints": {}})


def test_a_config_extending_a_replaced_declaration_merges_into_it(tmp_path: Path) -> None:
    telco = load_settings(ROOT / "configs" / "telco.yaml", environ={}).dataset
    dataset = _dataset(
        tmp_path,
        "dataset: {numeric: {total_charges: {fill: null, nullable: true}}}",
        extends=ROOT / "configs" / "telco.yaml",
    )
    charges = dataset.numeric["total_charges"]
    assert (charges.fill, charges.nullable, charges.missing) == (None, True, [""])
    assert dataset.model_copy(update={"numeric": telco.numeric}) == telco


def test_a_config_without_extends_changes_the_built_in_declaration(tmp_path: Path) -> None:
    section = "dataset: {numeric: {usage_frequency: {nullable: true}}, drop: [plan]}\n"
    (tmp_path / "alone.yaml").write_text(section)
    alone = load_settings(tmp_path / "alone.yaml", environ={})
    assert alone.dataset == _dataset(tmp_path, section)
    assert alone.dataset.numeric["usage_frequency"].nullable
    assert "plan" not in alone.dataset.features


class _OldRules(yaml.SafeLoader):
    """Parses `!replace` as a plain mapping, for the rules before sections merged."""


_OldRules.add_constructor("!replace", lambda loader, node: loader.construct_mapping(node))


def test_telco_loads_as_before_dataset_sections_merged() -> None:
    # Before: sections merged key by key, and a dataset section replaced the parent's whole.
    def read(name: str) -> dict[str, Any]:
        raw: dict[str, Any] = yaml.load((ROOT / "configs" / name).read_text(), Loader=_OldRules)
        return raw

    default, telco = read("default.yaml"), read("telco.yaml")
    assert telco.pop("extends") == "default.yaml"
    before = {
        section: values if section == "dataset" else {**default.get(section, {}), **values}
        for section, values in telco.items()
    }
    assert load_settings(ROOT / "configs" / "telco.yaml", environ={}) == Settings.model_validate(
        {**default, **before}
    )


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    # A `dataset:` line pasted below a config's own dataset section would replace it.
    (tmp_path / "mine.yaml").write_text(
        "dataset:\n  numeric: {fee: {min: 0}}\ncampaign: {threshold: 0.5}\n"
        "dataset: {numeric: {fee: {nullable: true}}}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"mine\.yaml gives the key 'dataset' twice in one mapping \(lines 1 and 4\); YAML "
        r"would keep only the last\. Write it once",
    ):
        load_settings(tmp_path / "mine.yaml", environ={})
    # Keys that a `<<: *anchor` merge brings in are overridden by design, as in telco.yaml.
    (tmp_path / "anchors.yaml").write_text(
        "dataset: !replace\n  categorical:\n    a: &yes_no {levels: ['Yes', 'No'], aliases: [A]}\n"
        "    b: {<<: *yes_no, aliases: [B]}\nmodel: {monotone_constraints: {}}\n"
    )
    categorical = load_settings(tmp_path / "anchors.yaml", environ={}).dataset.categorical
    assert categorical["b"].aliases == ["B"] and categorical["b"].levels == ["Yes", "No"]


def test_replace_tags_only_mappings(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("dataset: {drop: !replace [plan]}\n")
    with pytest.raises(ConfigError, match=r"not valid YAML: `!replace` marks a mapping"):
        load_settings(tmp_path / "mine.yaml", environ={})


def test_one_labelled_file_is_both_tables_when_a_rule_says_which_rows_are_scored(
    tmp_path: Path,
) -> None:
    from churn.score_rows import DateRows

    same = "data: {source: files, training_path: all.csv, scoring_path: all.csv"
    config = tmp_path / "one.yaml"
    config.write_text(same + "}\n")
    with pytest.raises(ConfigError, match=r"same file \(all\.csv\).*`data: \{score_rows: stay"):
        load_settings(config, environ={})
    config.write_text(same + ", score_rows: stayed}\n")
    settings = load_settings(config, environ={})
    assert settings.data.score_rows == "stayed" and settings.data.held_out_of_training is None
    config.write_text(same + ", score_rows: {date_column: snapshot_date, after: 2026-01-01}}\n")
    rule = load_settings(config, environ={}).data.held_out_of_training
    assert rule == DateRows(date_column="snapshot_date", after=date(2026, 1, 1))
    config.write_text(same + ", score_rows: {date_column: snapshot_date}}\n")
    with pytest.raises(ConfigError, match=r"one of `latest: true`.*and `after: YYYY-MM-DD`"):
        load_settings(config, environ={})
    config.write_text("data: {score_rows: stayed}\n")  # the synthetic world's own table
    with pytest.raises(ConfigError, match=r"score_rows picks rows of files.*source: files"):
        load_settings(config, environ={})
    config.write_text(same + ", score_rows: stayed}\ndataset: {id: {generate: always}}\n")
    with pytest.raises(ConfigError, match=r"would number the rows scored afresh"):
        load_settings(config, environ={})


def _models(annotation: Any, found: list[type[BaseModel]]) -> list[type[BaseModel]]:
    """Every model reachable from ``annotation``: through fields, and the arguments of
    ``dict``, ``list``, unions and ``Annotated``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation not in found:
            found.append(annotation)
            for field in annotation.model_fields.values():
                _models(field.annotation, found)
        return found
    for argument in get_args(annotation):
        _models(argument, found)
    return found


def test_every_setting_is_described_for_the_prefect_form() -> None:
    models = _models(Settings, [])
    assert DatasetSettings in models and len(models) > 20  # the walk reaches nested models
    missing = [
        f"{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert not missing, "fields without a description: " + ", ".join(missing)
    schema = Settings.model_json_schema()  # what Prefect shows a flow's settings parameter as
    assert schema["properties"]["data"]["description"]
    assert schema["$defs"]["NumericColumn"]["properties"]["fill"]["description"]
