"""Screenshots of what people see: the pipeline run on the embedded default in a
scratch folder, a Prefect server and the MLflow UI on 127.0.0.1, and headless
Chromium (Debian's, driven by Playwright) taking the pages.

    python scripts/screenshots.py --out docs/screenshots
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The browser helpers the tests use (a `tests` package from elsewhere may shadow ours).
sys.path.insert(0, str(ROOT / "tests"))

from browser import MlflowUI, _free_port, chromium  # noqa: E402


def _wait(url: str, process: subprocess.Popen[bytes], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer") from None
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out = parser.parse_args().out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="churn-screens-") as scratch:
        work = Path(scratch)
        port = _free_port()
        api = f"http://127.0.0.1:{port}/api"
        env = {**os.environ, "PREFECT_HOME": str(work / "prefect"), "PREFECT_API_URL": api,
               "PREFECT_UI_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
        prefect = subprocess.Popen(
            [str(bin_dir / "prefect"), "server", "start", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait(f"{api}/health", prefect)
            (work / "configs").symlink_to(ROOT / "configs")
            subprocess.run([str(bin_dir / "churn"), "run"], cwd=work, env=env, check=True)
            ui = MlflowUI(f"sqlite:///{work / 'mlflow.db'}", work / "mlartifacts")
            try:
                _shoot(ui.url(), f"http://127.0.0.1:{port}", work, out)
            finally:
                ui.server.terminate()
        finally:
            prefect.terminate()
            prefect.wait(timeout=30)
    print(f"Screenshots in {out}")


def _shoot(mlflow_url: str, prefect_url: str, work: Path, out: Path) -> None:
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import sync_playwright

    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    scoring = client.get_experiment_by_name("churn-scoring")
    (run,) = client.search_runs([scoring.experiment_id], max_results=1)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{mlflow_url}/#/experiments/{scoring.experiment_id}/runs/{run.info.run_id}")
        headline = page.get_by_text("It paid for itself").first
        headline.wait_for(timeout=60_000)
        headline.scroll_into_view_if_needed()
        page.screenshot(path=str(out / "mlflow-scoring-run.png"))
        page.goto(f"{mlflow_url}/#/models/churn-model/versions/1")
        page.get_by_text("is the champion").first.wait_for(timeout=60_000)
        page.screenshot(path=str(out / "mlflow-model-version.png"))
        page.goto(f"{prefect_url}/artifacts")
        page.get_by_text("churn-model-realized-roi").first.wait_for(timeout=60_000)
        page.get_by_text("churn-model-realized-roi").first.click()
        # The key's timeline, then its latest artifact (named by its id's first 8 digits).
        page.get_by_text(re.compile(r"^[0-9a-f]{8}$")).first.click()
        page.get_by_text("treated / control customers").first.wait_for(timeout=60_000)
        page.screenshot(path=str(out / "prefect-realized-roi.png"))
        browser.close()


if __name__ == "__main__":
    main()
