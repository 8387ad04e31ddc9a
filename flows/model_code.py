"""The registered model's code, for MLflow's models-from-code.

``mlflow.pyfunc.load_model("models:/churn-model@champion")`` runs this file and
gets a model that reads the plain files (``churn.model_io``) logged beside it:
raw customer table in, calibrated churn probability out. Nothing is unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

from churn.model_io import load_model

ARTIFACT = "churn_model"


class ChurnModelFiles(PythonModel):
    """The churn model, read from its folder of plain files."""

    def load_context(self, context: Any) -> None:
        self.model = load_model(Path(context.artifacts[ARTIFACT]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        return self.model.predict_proba(model_input)


set_model(ChurnModelFiles())
