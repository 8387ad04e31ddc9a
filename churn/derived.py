"""Derived columns: sums, differences, products and ratios of declared numeric columns.

A declaration names the operation and its columns (``{sum: [fee_a, fee_b]}``);
nothing a user writes is evaluated as code. The same function computes a
derived column wherever one is needed — the model's features
(``churn.features.build_features``, so training, chunked and Dask scoring
alike) and a customer's value (``churn.dataset.customer_values``).

A value that cannot be computed is missing (NaN), never infinite: a missing
operand, a zero denominator (``0/0`` too) or a result too large for a float.
LightGBM routes missing values down the side of each split learnt for them, and
the logistic baseline fills them with the training median.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# Operation → how many columns it takes: (at least, at most), None for no limit.
OPERATIONS: dict[str, tuple[int, int | None]] = {
    "sum": (2, None),
    "product": (2, None),
    "difference": (2, 2),
    "ratio": (2, 2),
}


def derive_column(
    customers: pd.DataFrame, *, operation: str, columns: tuple[str, ...] | list[str]
) -> pd.Series:
    """A derived column of ``customers``: ``operation`` applied to ``columns`` row by row.

    ``difference`` is the first column minus the second, ``ratio`` the first
    divided by the second; a row without a finite result is missing.

    Examples:
        >>> import pandas as pd
        >>> c = pd.DataFrame({"a": [6.0, 1.0, 0.0, None], "b": [3.0, 0.0, 0.0, 1.0]})
        >>> derive_column(c, operation="sum", columns=["a", "b"]).tolist()
        [9.0, 1.0, 0.0, nan]
        >>> derive_column(c, operation="ratio", columns=["a", "b"]).tolist()
        [2.0, nan, nan, nan]
    """
    import numpy as np

    if operation not in OPERATIONS:
        raise ValueError(
            f"unknown derived operation {operation!r}; expected one of {', '.join(OPERATIONS)}"
        )
    values = [customers[column].astype("float64") for column in columns]
    if operation == "sum":
        out = reduce(operator.add, values)
    elif operation == "product":
        out = reduce(operator.mul, values)
    elif operation == "difference":
        out = values[0] - values[1]
    else:
        denominator = values[1]
        out = values[0] / denominator.where(denominator != 0)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(out.to_numpy())
    return out.where(finite).rename(None)
