"""Benchmark: the pipeline's flows against the raw LightGBM floor, on the same rows.

For each size it measures, each in a fresh process (so peak memory is its own):

- scoring flow end to end (read, validate, features, predict, flag, the
  contact policy and the campaign recorded in the ledger (SQLite), write)
  against ``booster.predict_proba`` on the same rows already in memory
  as a numeric matrix;
  and against the compiled trees' (``lleaves``) predict on the same matrix;
- training flow end to end, as a weekly retrain runs it (the tracking store
  and a champion exist; the first training, which also creates the store, is
  reported beside it), against a bare LightGBM fit of the same model on the
  same rows: the classifier the flow builds (``churn.train.lightgbm_classifier``,
  same parameters), fit on all the training rows already in memory as
  features, for as many boosting rounds as the flow ran (early stopping's
  included), with no validation set, calibration, evaluation or tracking.
  Imports count on both sides: the bare fit's clock starts before
  ``import lightgbm`` (which loads scikit-learn), as the flow's includes
  every import its tasks make (a scheduled run starts a fresh process).
  The time the flow spent compiling the trees is reported apart, and the
  ratio with it too. Meanwhile the logistic baseline is fitted in the flow's
  side process (about 0.5 s at 1 M rows), after the flow's own process has
  sampled and pickled its rows, which competes with the compiler for that
  process's GIL; the side process's peak memory is reported beside the
  flow's;
  cross-validation is off (``model.cv_folds: 0``), as it is k more fits by
  design;

and writes ``bench/results/bench.{md,json}``. Usage:

    python bench/bench.py --sizes 100000 1000000 10000000 [--train-max 1000000] [--repeat 3]

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
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _side_peak_mb() -> float:
    """Peak resident memory of the flow's side process (0 when none ran: one core)."""
    from flows import sidecar

    return sidecar.call(sidecar.peak_memory_mb) if sidecar.available_cores() >= 2 else 0.0


def _settings(root: Path, n: int):  # type: ignore[no-untyped-def]
    from churn.settings import (
        CampaignSettings,
        DataSettings,
        LedgerSettings,
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
        # A fresh ledger per run: each round records its campaign whole (the flagged
        # rows written in one transaction), as a new campaign does; an id already in
        # the ledger would only be read back.
        ledger=LedgerSettings(url=f"sqlite:///{root / f'ledger-{os.getpid()}.db'}"),
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
            summary = score_flow(settings, campaign_id=f"bench-{n}")
            seconds = time.perf_counter() - start
            return {"seconds": seconds, "peak_mb": _peak_mb(), "steps": summary["step_seconds"]}
        result = train_flow(settings)
        seconds = time.perf_counter() - start
        from flows.runs import client_for

        run = client_for(settings.tracking).get_run(result["mlflow_run_id"])
        return {
            "seconds": seconds,
            "peak_mb": _peak_mb(),
            "side_peak_mb": _side_peak_mb(),
            "compile_seconds": run.data.metrics.get("compile_seconds", float("nan")),
            "boosting_rounds": int(run.data.params["boosting_rounds"]),
        }

    import pandas as pd

    from churn.features import SYNTHETIC, build_features, category_levels

    if name in ("raw_predict", "compiled_predict"):
        from churn.compiled import feature_matrix
        from flows.registry import load_champion
        from flows.runs import client_for

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
            model.trees.predict(values)
        return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}
    if name.startswith("raw_fit"):
        from churn.train import lightgbm_classifier

        rounds = int(name.partition(":")[2])
        customers = pd.read_parquet(settings.data.training_path)
        levels = category_levels(customers, SYNTHETIC)
        features = build_features(customers, spec=SYNTHETIC, categories=levels)
        labels = customers["churned"].to_numpy()
        del customers
        # From `import lightgbm` on, as the flow pays it too (it loads scikit-learn).
        assert "lightgbm" not in sys.modules
        start = time.perf_counter()
        model = lightgbm_classifier(
            settings.model, features=list(features.columns), n_estimators=rounds
        )
        model.fit(features, labels)
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


def _rounds(names: list[str], root: Path, n: int, repeat: int) -> dict[str, list[dict[str, Any]]]:
    """Run the cases in turn, ``repeat`` rounds, so that a flow and its floor see the
    machine in the same state (this one has slow spells of a minute or so)."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _ in range(repeat):
        for name in names:
            runs[name].append(_run(name, root, n))
    return runs


def _median(values: Any) -> float:
    return float(statistics.median(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--train-max", type=int, default=1_000_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each timed case (the median is reported)"
    )
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
        first = _run("train_flow", root, n)
        fit_case = f"raw_fit:{first['boosting_rounds']}"  # the same data and seed: same rounds
        t = _rounds(["train_flow", fit_case], root, n, args.repeat)
        train, fit = t["train_flow"], t[fit_case]
        s = _rounds(["score_flow", "raw_predict", "compiled_predict"], root, n, args.repeat)
        score, raw, compiled = s["score_flow"], s["raw_predict"], s["compiled_predict"]
        score_s, train_s = (_median(r["seconds"] for r in runs) for runs in (score, train))
        raw_s, compiled_s = (_median(r["seconds"] for r in runs) for runs in (raw, compiled))
        rows.append({
            "rows": n, "train_rows": train_rows,
            "score_flow_s": score_s, "score_flow_rows_per_s": n / score_s,
            "raw_predict_s": raw_s, "raw_predict_rows_per_s": n / raw_s,
            "compiled_predict_s": compiled_s, "compiled_predict_rows_per_s": n / compiled_s,
            # Ratios are medians of the ratios within each round.
            "score_ratio": _median(
                r["seconds"] / f["seconds"] for r, f in zip(raw, score, strict=True)
            ),
            "compiled_ratio": _median(
                c["seconds"] / f["seconds"] for c, f in zip(compiled, score, strict=True)
            ),
            "score_flow_peak_mb": max(r["peak_mb"] for r in score),
            # Where the scoring pass's seconds go (medians); the rest of the flow apart.
            "score_steps_s": {
                step: _median(r["steps"][step] for r in score) for step in score[0]["steps"]
            },
            "raw_predict_peak_mb": max(r["peak_mb"] for r in raw),
            "first_train_flow_s": first["seconds"],
            "train_flow_s": train_s, "train_flow_peak_mb": max(r["peak_mb"] for r in train),
            "compile_s": _median(r["compile_seconds"] for r in train),
            "boosting_rounds": first["boosting_rounds"],
            "raw_fit_s": _median(r["seconds"] for r in fit),
            "raw_fit_peak_mb": max(r["peak_mb"] for r in fit),
            "train_ratio": _median(
                (r["seconds"] - r["compile_seconds"]) / f["seconds"]
                for r, f in zip(train, fit, strict=True)
            ),
            "train_ratio_with_compiling": _median(
                r["seconds"] / f["seconds"] for r, f in zip(train, fit, strict=True)
            ),
            "train_side_peak_mb": max(r["side_peak_mb"] for r in train),
            "samples_s": {
                name: [r["seconds"] for r in runs] for name, runs in (t | s).items()
            } | {"compile": [r["compile_seconds"] for r in train]},
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    repeats = (
        f"median of {args.repeat} rounds (ratios: median of each round's ratio)"
        if args.repeat > 1
        else "one run"
    )
    backend = os.environ.get("PREFECT_API_URL") or "Prefect temporary backend (start-up included)"
    lines = [
        f"Machine: {machine}; {backend}; timings are the {repeats} of each case.",
        "",
        "| rows | scoring flow rows/s | LightGBM predict rows/s | ratio | compiled predict rows/s "
        "| ratio | scoring peak MB | training rows | first training s | retraining s "
        "| of which compiling s | boosting rounds | bare fit s "
        "| training ratio (without compiling) | with compiling | training peak MB "
        "| side process peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['rows']:,} | {r['score_flow_rows_per_s']:,.0f} | "
            f"{r['raw_predict_rows_per_s']:,.0f} | {r['score_ratio']:.2f} | "
            f"{r['compiled_predict_rows_per_s']:,.0f} | {r['compiled_ratio']:.2f} | "
            f"{r['score_flow_peak_mb']:,.0f} | {r['train_rows']:,} | "
            f"{r['first_train_flow_s']:.1f} | {r['train_flow_s']:.1f} | {r['compile_s']:.1f} | "
            f"{r['boosting_rounds']} | {r['raw_fit_s']:.1f} | {r['train_ratio']:.2f} | "
            f"{r['train_ratio_with_compiling']:.2f} | {r['train_flow_peak_mb']:,.0f} | "
            f"{r['train_side_peak_mb']:,.0f} |"
        )
    steps = list(rows[0]["score_steps_s"]) if rows else []
    lines += [
        "",
        "Where the scoring flow's seconds go (medians; the rest: the ledger, the campaign "
        "files, MLflow, Prefect):",
        "",
        "| rows | flow s | " + " | ".join(s.removeprefix("seconds_") for s in steps) + " | rest |",
        "|---|---|" + "---|" * (len(steps) + 1),
    ]
    for r in rows:
        spent = [r["score_steps_s"][step] for step in steps]
        lines.append(
            f"| {r['rows']:,} | {r['score_flow_s']:.1f} | "
            + " | ".join(f"{v:.1f}" for v in spent)
            + f" | {r['score_flow_s'] - sum(spent):.1f} |"
        )
    results = args.out
    (results / "bench.md").write_text("\n".join(lines) + "\n")
    (results / "bench.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
