"""Where a pass's seconds go: named steps, timed as they run (logged with the scoring
run, printed by the benchmark)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class StepTimes:
    """Seconds per step, summed over every time the step ran (one per chunk).

    Examples:
        >>> times = StepTimes()
        >>> for _ in range(2):
        ...     with times.step("seconds_predict"):
        ...         pass
        >>> list(times.seconds), times.seconds["seconds_predict"] >= 0
        (['seconds_predict'], True)
    """

    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as ``name`` (its metric name), added to earlier runs of it."""
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed

    def as_metrics(self) -> dict[str, float]:
        """The seconds of each step, by metric name, in the order the steps first ran."""
        return dict(self.seconds)
