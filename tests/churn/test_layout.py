from pathlib import Path

import pytest

from churn.errors import ConfigError
from churn.layout import CampaignFolder


def test_a_campaign_folder_holds_its_four_files(tmp_path: Path) -> None:
    folder = CampaignFolder.of(tmp_path / "outputs", "campaign-2026-12-01")
    assert folder.path == tmp_path / "outputs" / "campaign-2026-12-01"
    names = [p.name for p in (folder.scores, folder.assignment, folder.campaign_list,
                              folder.outcomes)]  # fmt: skip
    assert names == ["scores.parquet", "assignment.parquet", "campaign.csv", "outcomes.parquet"]
    assert all(p.parent == folder.path for p in (folder.scores, folder.outcomes))


@pytest.mark.parametrize("bad", ["../x", "../../etc", "/tmp/abs", "a/b", ".", ".."])
def test_an_id_that_leaves_the_output_folder_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match="is not a plain name"):
        CampaignFolder.of(tmp_path / "outputs", bad)
