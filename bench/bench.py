"""Benchmark: the pipeline's flows against the raw LightGBM floor, on the same rows.

For each size it measures, each in a fresh process (so peak memory is its own):

- scoring flow end to end (read, validate, features, predict, flag, holdout,
  write) against ``booster.predict_proba`` on the same rows already in memory
  as a numeric matrix;
- training flow end to end against a bare ``LGBMClassifier.fit`` on the same
  rows (same parameters, no early stopping, no calibration);

and writes ``bench/results/bench.{md,json}``. Usage:

    python bench/bench.py --sizes 100000 1000000 [--skip-training]

Prefect runs on its temporary backend unless PREFECT_API_URL names a server;
the temporary backend's start-up (10-25 s here) is inside the flow timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _settings(root: Path, n: int):  # type: ignore[no-untyped-def]
    from churn.settings import CampaignSettings, DataSettings, Settings, TrackingSettings

    return Settings(
        data=DataSettings(
            source="files",
            training_path=root / "customers.parquet",
            scoring_path=root / "current.parquet",
            truth_path=root / "truth.parquet",
            customers=max(n, 100),
        ),
        campaign=CampaignSettings(output_dir=root / "outputs", chunk_size=250_000),
        tracking=TrackingSettings(
            uri=f"sqlite:///{root / 'mlflow.db'}", artifact_dir=root / "mlartifacts"
        ),
    )


def case(name: str, root: Path, n: int) -> dict[str, float]:
    """Run one measurement in this process; return seconds and peak memory."""
    from flows.runtime import configure_runtime

    configure_runtime()
    settings = _settings(root, n)
    if name == "generate":
        from churn.data import write_world
        from churn.synthetic import generate_world

        world = generate_world(n, seed=1, as_of=date(2026, 6, 30))
        write_world(world, customers_path=settings.data.training_path,
                    current_path=settings.data.scoring_path, truth_path=None)  # fmt: skip
        return {"seconds": 0.0, "peak_mb": _peak_mb()}
    if name in ("train_flow", "score_flow"):
        from flows.score import score_flow
        from flows.train import train_flow

        start = time.perf_counter()
        if name == "train_flow":
            train_flow(settings)
        else:
            score_flow(settings, campaign_id=f"bench-{n}")
        return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}

    import lightgbm as lgb
    import pandas as pd

    from churn.features import SYNTHETIC, build_features, category_levels

    if name == "raw_predict":
        import mlflow

        mlflow.set_tracking_uri(settings.tracking.uri)
        model = mlflow.pyfunc.load_model("models:/churn-model@champion").unwrap_python_model()
        customers = pd.read_parquet(settings.data.scoring_path)
        matrix = model.model.features(customers)
        matrix["plan"] = matrix["plan"].cat.codes.astype("float64")
        values = matrix.to_numpy(dtype="float64")
        booster = model.model.booster.booster_
        del customers, matrix
        start = time.perf_counter()
        booster.predict(values)
        return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}
    if name == "raw_fit":
        customers = pd.read_parquet(settings.data.training_path)
        levels = category_levels(customers, SYNTHETIC)
        features = build_features(customers, spec=SYNTHETIC, categories=levels)
        labels = customers["churned"].to_numpy()
        m = settings.model
        start = time.perf_counter()
        lgb.LGBMClassifier(
            n_estimators=200, learning_rate=m.learning_rate, num_leaves=m.num_leaves,
            min_child_samples=m.min_child_samples, n_jobs=2, verbose=-1,
        ).fit(features, labels)  # fmt: skip
        return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}
    raise ValueError(f"unknown case {name!r}")


def _run(name: str, root: Path, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--case", name, "--root", str(root), "--sizes", str(n)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"case {name} at {n} rows failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--case")
    parser.add_argument("--root", type=Path)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case, args.root, args.sizes[0])))
        return

    rows = []
    for n in args.sizes:
        root = args.out / "work" / str(n)
        root.mkdir(parents=True, exist_ok=True)
        _run("generate", root, n)
        train = _run("train_flow", root, n)
        fit = None if args.skip_training else _run("raw_fit", root, n)
        score = _run("score_flow", root, n)
        raw = _run("raw_predict", root, n)
        rows.append({
            "rows": n,
            "score_flow_s": score["seconds"], "score_flow_rows_per_s": n / score["seconds"],
            "raw_predict_s": raw["seconds"], "raw_predict_rows_per_s": n / raw["seconds"],
            "score_ratio": raw["seconds"] / score["seconds"],
            "score_flow_peak_mb": score["peak_mb"], "raw_predict_peak_mb": raw["peak_mb"],
            "train_flow_s": train["seconds"], "train_flow_peak_mb": train["peak_mb"],
            "raw_fit_s": None if fit is None else fit["seconds"],
            "train_ratio": None if fit is None else train["seconds"] / fit["seconds"],
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    backend = os.environ.get("PREFECT_API_URL") or "Prefect temporary backend (start-up included)"
    lines = [
        f"Machine: {machine}; {backend}.",
        "",
        "| rows | scoring flow rows/s | raw predict rows/s | ratio (raw time / flow time) "
        "| scoring peak MB | training flow s | bare fit s | training ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fit_s = "-" if r["raw_fit_s"] is None else f"{r['raw_fit_s']:.1f}"
        ratio = "-" if r["train_ratio"] is None else f"{r['train_ratio']:.2f}"
        lines.append(
            f"| {r['rows']:,} | {r['score_flow_rows_per_s']:,.0f} | "
            f"{r['raw_predict_rows_per_s']:,.0f} | {r['score_ratio']:.3f} | "
            f"{r['score_flow_peak_mb']:,.0f} | {r['train_flow_s']:.1f} | {fit_s} | {ratio} |"
        )
    results = args.out
    (results / "bench.md").write_text("\n".join(lines) + "\n")
    (results / "bench.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
