"""Where a campaign's files live: one folder per campaign, under the output folder.

``outputs/campaigns/<campaign id>/`` holds ``scores.parquet`` (every customer
scored), ``assignment.parquet`` (every flagged customer, their group and skip
reason), ``campaign.csv`` (the customers to contact, for the CRM), ``features.parquet``
(the model's features of every treated and control customer as scored: the
covariates of the campaign's experiment, which the uplift model learns from),
under ``data.score_rows`` ``rows_to_score.csv`` (or ``.parquet``: the rows the rule
selected, as scored) and, on the synthetic world, ``outcomes.parquet``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from churn.errors import ConfigError


@dataclass(frozen=True)
class CampaignFolder:
    """A campaign's folder and the files in it."""

    path: Path

    @classmethod
    def of(cls, output_dir: Path, campaign_id: str) -> CampaignFolder:
        """The folder of ``campaign_id`` under ``output_dir``, which it must stay under
        (ids are checked as names before; this holds whatever the id).

        Examples:
            >>> CampaignFolder.of(Path("outputs"), "c-1").campaign_list.as_posix()
            'outputs/c-1/campaign.csv'
        """
        folder = output_dir / campaign_id
        if folder.resolve().parent != output_dir.resolve():
            raise ConfigError(
                f"Campaign id {campaign_id!r} is not a plain name: its folder would be "
                f"{folder.resolve()}, outside {output_dir.resolve()}."
            )
        return cls(folder)

    @property
    def scores(self) -> Path:
        return self.path / "scores.parquet"

    @property
    def assignment(self) -> Path:
        return self.path / "assignment.parquet"

    @property
    def campaign_list(self) -> Path:
        return self.path / "campaign.csv"

    @property
    def features(self) -> Path:
        return self.path / "features.parquet"

    def rows_to_score(self, table_format: str) -> Path:
        """The rows ``data.score_rows`` selected, copied in their table's format."""
        return self.path / f"rows_to_score.{'parquet' if table_format == 'parquet' else 'csv'}"

    @property
    def outcomes(self) -> Path:
        return self.path / "outcomes.parquet"
