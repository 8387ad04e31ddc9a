"""Benchmark: the pipeline's flows against the raw LightGBM floor, on the same rows.

For each size it measures, each in a fresh process (so peak memory is its own):

- scoring flow end to end (read, validate, features, predict, flag, holdout,
  write) against ``booster.predict_proba`` on the same rows already in memory
  as a numeric matrix;
  and against the compiled trees' (``lleaves``) predict on the same matrix;
- training flow end to end against a bare ``LGBMClassifier.fit`` on the same
  rows (same parameters, no early stopping, no calibration), with the time it
  spent compiling the trees reported apart; cross-validation is off
  (``model.cv_folds: 0``), as it is k more fits by design;

and writes ``bench/results/bench.{md,json}``. Usage:

    python bench/bench.py --sizes 100000 1000000 10000000 [--train-max 1000000]

Above ``--train-max`` rows the model is trained on ``--train-max`` customers
and scores the full size. Prefect runs on its temporary backend unless
PREFECT_API_URL names a server; the temporary backend's start-up (10-25 s
here) is then inside the flow timings.
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
    from churn.settings import (
        CampaignSettings,
        DataSettings,
        ModelSettings,
        Settings,
        TrackingSettings,
    )

    return Settings(
        model=ModelSettings(cv_folds=0, compile=True),
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
    if name.startswith("generate"):
        from churn.data import write_table
        from churn.synthetic import generate_world

        train_rows = int(name.partition(":")[2] or n)
        world = generate_world(train_rows, seed=1, as_of=date(2026, 6, 30))
        write_table(world.customers, settings.data.training_path)
        if train_rows != n:
            del world
            world = generate_world(n, seed=2, as_of=date(2026, 6, 30))
        write_table(world.current, settings.data.scoring_path)
        return {"seconds": 0.0, "peak_mb": _peak_mb()}
    if name in ("train_flow", "score_flow"):
        from flows.score import score_flow
        from flows.train import train_flow

        start = time.perf_counter()
        if name == "score_flow":
            score_flow(settings, campaign_id=f"bench-{n}")
            return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}
        result = train_flow(settings)
        seconds = time.perf_counter() - start
        from flows.tracking import client_for

        metrics = client_for(settings.tracking).get_run(result["mlflow_run_id"]).data.metrics
        return {
            "seconds": seconds,
            "peak_mb": _peak_mb(),
            "compile_seconds": metrics.get("compile_seconds", float("nan")),
        }

    import lightgbm as lgb
    import pandas as pd

    from churn.features import SYNTHETIC, build_features, category_levels

    if name in ("raw_predict", "compiled_predict"):
        from churn.compiled import feature_matrix
        from flows.tracking import client_for, load_champion

        client = client_for(settings.tracking)
        compiled = name == "compiled_predict"
        model = load_champion(client, name=settings.model.registered_name, compiled=compiled).model
        if compiled and model.compiled is None:
            raise SystemExit("the champion has no compiled trees (is lleaves installed?)")
        customers = pd.read_parquet(settings.data.scoring_path)
        values = feature_matrix(model.features(customers))
        del customers
        start = time.perf_counter()
        if model.compiled is not None:
            model.compiled.predict(values)
        else:
            model.booster.booster_.predict(values)
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
    parser.add_argument("--train-max", type=int, default=1_000_000)
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
        train_rows = min(n, args.train_max)
        _run(f"generate:{train_rows}", root, n)
        train = _run("train_flow", root, n)
        fit = _run("raw_fit", root, n)
        score = _run("score_flow", root, n)
        raw = _run("raw_predict", root, n)
        compiled = _run("compiled_predict", root, n)
        rows.append({
            "rows": n, "train_rows": train_rows,
            "score_flow_s": score["seconds"], "score_flow_rows_per_s": n / score["seconds"],
            "raw_predict_s": raw["seconds"], "raw_predict_rows_per_s": n / raw["seconds"],
            "score_ratio": raw["seconds"] / score["seconds"],
            "compiled_predict_s": compiled["seconds"],
            "compiled_predict_rows_per_s": n / compiled["seconds"],
            "compiled_ratio": compiled["seconds"] / score["seconds"],
            "score_flow_peak_mb": score["peak_mb"], "raw_predict_peak_mb": raw["peak_mb"],
            "train_flow_s": train["seconds"], "train_flow_peak_mb": train["peak_mb"],
            "compile_s": train["compile_seconds"],
            "raw_fit_s": fit["seconds"],
            "train_ratio": (train["seconds"] - train["compile_seconds"]) / fit["seconds"],
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    backend = os.environ.get("PREFECT_API_URL") or "Prefect temporary backend (start-up included)"
    lines = [
        f"Machine: {machine}; {backend}.",
        "",
        "| rows | scoring flow rows/s | LightGBM predict rows/s | ratio | compiled predict rows/s "
        "| ratio | scoring peak MB | training rows | training flow s | of which compiling s "
        "| bare fit s | training ratio (without compiling) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['rows']:,} | {r['score_flow_rows_per_s']:,.0f} | "
            f"{r['raw_predict_rows_per_s']:,.0f} | {r['score_ratio']:.2f} | "
            f"{r['compiled_predict_rows_per_s']:,.0f} | {r['compiled_ratio']:.2f} | "
            f"{r['score_flow_peak_mb']:,.0f} | {r['train_rows']:,} | {r['train_flow_s']:.1f} | "
            f"{r['compile_s']:.1f} | {r['raw_fit_s']:.1f} | {r['train_ratio']:.2f} |"
        )
    results = args.out
    (results / "bench.md").write_text("\n".join(lines) + "\n")
    (results / "bench.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
