"""The registered model's code, for MLflow's models-from-code.

``mlflow.pyfunc.load_model("models:/churn-model@champion")`` runs this file and
gets a model that reads the plain files (``churn.model_io``) logged beside it:
raw customer table in, calibrated churn probability out. Nothing is unpickled.
The model class lives in ``flows/registry.py``, the door to MLflow's models.
"""

from flows.registry import declare_model_code

declare_model_code()
