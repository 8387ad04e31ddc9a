"""The money answer in words: what a campaign or a training run shows people.

Pure text from the ledger's record and the run's figures, rounded for people:
dollars to the dollar, ROI to the percent, intervals beside their value. The
same words go to the MLflow run's description (markdown), the campaign's HTML
report and the terminal.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from churn.contact_policy import SKIP_REASONS
from churn.ledger import CampaignRecord

# The campaign's one-file report among its scoring run's artifacts.
REPORT_ARTIFACT = "campaign_report.html"


def dollars(value: float | None) -> str:
    """Dollars to the dollar, the sign before the symbol.

    Examples:
        >>> dollars(88200.4), dollars(-1234.5), dollars(None)
        ('$88,200', '-$1,234', 'n/a')
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"


def percent(value: float | None) -> str:
    """A percentage to the percent.

    Examples:
        >>> percent(1130.77), percent(None)
        ('1,131 %', 'n/a')
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:,.0f} %"


def interval(low: float | None, high: float | None, unit: str) -> str:
    """``low to high`` in dollars (``unit="$"``) or percent (``"%"``).

    Examples:
        >>> interval(61000, 110500, "$"), interval(790, 1420.4, "%")
        ('$61,000 to $110,500', '790 % to 1,420 %')
    """
    show = dollars if unit == "$" else percent
    return f"{show(low)} to {show(high)}"


@dataclass(frozen=True)
class CampaignHeadline:
    """A campaign's answer to "did it make money, and how sure are we?"."""

    title: str
    sentence: str
    rows: tuple[tuple[str, str, str], ...]  # (what, expected at scoring, realized)
    note: str

    def markdown(self) -> str:
        """The run description: the answer in bold, then the table (MLflow renders it)."""
        lines = [f"**{self.title}**", "", self.sentence, ""]
        lines += ["| | expected at scoring | realized |", "|---|---:|---:|"]
        lines += [f"| {what} | {expected} | {realized} |" for what, expected, realized in self.rows]
        return "\n".join([*lines, "", self.note])


def campaign_headline(
    record: CampaignRecord,
    *,
    expected_roi_pct: float | None,
    expected_full_cost_roi_pct: float | None = None,
    confidence: float = 0.95,
) -> CampaignHeadline:
    """The campaign in words and a table, from its ledger record.

    Before its outcomes are measured the realized column says when they are due.

    Args:
        record: the campaign as the ledger holds it (realized figures once measured).
        expected_roi_pct: its expected ROI at scoring (None: nobody contacted).
        expected_full_cost_roi_pct: the same with compute and fixed costs.
        confidence: the level of the realized intervals.
    """
    c = record
    level = f"{confidence:.0%}".replace("%", " %")
    skipped = ", ".join(f"{c.n_skipped(r):,} {r}" for r in SKIP_REASONS if c.n_skipped(r))
    sentence = (
        f"Scored {c.n_scored:,} customers with {c.model_name} v{c.model_version} on "
        f"{c.scored_at:%Y-%m-%d}: {c.n_flagged:,} above the {c.threshold:g} threshold, "
        f"{c.n_treated:,} contacted and {c.n_control:,} held out at random as the control "
        f"group; skipped: {skipped or 'none'}."
    )
    measured = c.measured_at is not None and c.realized_net_benefit is not None
    realized_net = realized_roi = realized_full = "not yet measured"
    if measured:
        realized_net = (
            f"{dollars(c.realized_net_benefit)} "
            f"({interval(c.realized_net_benefit_low, c.realized_net_benefit_high, '$')})"
        )
        realized_roi = (
            f"{percent(c.realized_roi_pct)} "
            f"({interval(c.realized_roi_pct_low, c.realized_roi_pct_high, '%')})"
        )
        realized_full = percent(c.realized_full_cost_roi_pct)
        title = (
            f"Campaign {c.campaign_id} made {realized_net} net, "
            f"realized ROI {realized_roi}, {level} intervals."
        )
        if c.realized_net_benefit_low is not None and c.realized_net_benefit_low > 0:
            title += " It paid for itself."
        elif c.realized_net_benefit_high is not None and c.realized_net_benefit_high < 0:
            title += " It lost money."
        else:
            title += " Whether it paid is not yet certain: the interval spans zero."
        note = (
            f"Measured {c.measured_at:%Y-%m-%d %H:%M} UTC against the control group; "
            "full cost adds the pipeline's compute and fixed costs."
        )
    else:
        title = (
            f"Campaign {c.campaign_id}: expected net benefit "
            f"{dollars(c.expected_net_benefit)}, expected ROI {percent(expected_roi_pct)}; "
            "realized ROI not yet measured."
        )
        note = (
            f"Outcomes are due by {c.window_end:%Y-%m-%d}; then "
            f"`churn roi --campaign {c.campaign_id} --outcomes FILE` measures the realized "
            f"ROI against the control group ({level} intervals) and writes it here."
        )
    rows = (
        ("customers contacted", f"{c.n_treated:,}", f"{c.n_treated:,}"),
        ("control group (held out)", f"{c.n_control:,}", f"{c.n_control:,}"),
        ("net benefit", dollars(c.expected_net_benefit), realized_net),
        ("ROI, campaign cost", percent(expected_roi_pct), realized_roi),
        ("ROI, full cost", percent(expected_full_cost_roi_pct), realized_full),
    )
    return CampaignHeadline(title=title, sentence=sentence, rows=rows, note=note)


def training_description(
    *,
    model_name: str,
    version: str,
    alias: str,
    metrics: Mapping[str, float],
    backtest_net_benefit: float,
    backtest_roi_pct: float | None,
    decision: str | None,
) -> str:
    """A training run's description: the version, its AUC against the champion and the
    baseline, the decision and the backtest's dollars.

    Examples:
        >>> text = training_description(model_name="m", version="3", alias="champion",
        ...     metrics={"auc": 0.8938, "baseline_auc": 0.8962, "champion_auc": 0.8901},
        ...     backtest_net_benefit=88200, backtest_roi_pct=1130.8, decision="promoted: …")
        >>> text.splitlines()[0]
        '**m v3 is the champion: AUC 0.8938 (champion 0.8901, baseline 0.8962); backtest net benefit $88,200, ROI 1,131 %.**'
    """  # noqa: E501
    auc = f"AUC {metrics['auc']:.4f}"
    others = [
        f"{name} {metrics[key]:.4f}"
        for name, key in (("champion", "champion_auc"), ("baseline", "baseline_auc"))
        if key in metrics
    ]
    if others:
        auc += f" ({', '.join(others)})"
    role = "is the champion" if alias == "champion" else f"is the {alias}"
    lines = [
        f"**{model_name} v{version} {role}: {auc}; backtest net benefit "
        f"{dollars(backtest_net_benefit)}, ROI {percent(backtest_roi_pct)}.**",
        "",
        f"Decision: {decision or 'the first model, champion'}.",
    ]
    if "baseline_auc" in metrics and metrics["baseline_auc"] > metrics["auc"]:
        lines += ["", "The logistic baseline ranks the test customers better than this model."]
    lines += ["", "Backtest: the test split's customers above the threshold, campaign cost only."]
    return "\n".join(lines)


def campaign_html(
    headline: CampaignHeadline, *, images: Mapping[str, bytes], generated_at: datetime
) -> str:
    """One self-contained HTML page (images inline) for readers who will not open MLflow."""
    esc = html.escape
    rows = "\n".join(
        f"<tr><th>{esc(what)}</th><td>{esc(expected)}</td><td>{esc(realized)}</td></tr>"
        for what, expected, realized in headline.rows
    )
    figures = "\n".join(
        f'<figure><img alt="{esc(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(data).decode()}"><figcaption>{esc(name)}</figcaption></figure>'
        for name, data in images.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(headline.title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; color: #222; }}
h1 {{ font-size: 1.35rem; }} table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ padding: .35rem .8rem; border-bottom: 1px solid #ddd; text-align: right; }}
th {{ text-align: left; font-weight: normal; }} thead th {{ font-weight: bold; }}
img {{ max-width: 100%; }} .note {{ color: #555; }}
</style></head><body>
<h1>{esc(headline.title)}</h1>
<p>{esc(headline.sentence)}</p>
<table><thead><tr><th></th><th>expected at scoring</th><th>realized</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p class="note">{esc(headline.note)}</p>
{figures}
<p class="note">Generated {generated_at:%Y-%m-%d %H:%M} UTC by churn-roi.</p>
</body></html>
"""
