"""The search algorithm Tune runs: its ``SearchGenerator`` over the Optuna searcher, whose
search is over while the sweep's budget takes no trial, not once and for good.

Tune's own generator marks itself finished the first time the searcher says so and saves
that flag in its state, so a budget that grows (``sweeper extend``, on a running sweep or a
finished one restored from its state) would never start another trial. Here the budget,
which the driver keeps true, decides each time Tune asks.
"""

from __future__ import annotations

from ray.tune.search import ConcurrencyLimiter, SearchGenerator

from sweeper.search.searcher import OptunaSearcher

__all__ = ["SweepSearch"]


class SweepSearch(SearchGenerator):
    """``max_concurrent``: Tune's ``max_concurrent_trials``, applied here (Tune ignores it for
    a search algorithm it did not wrap itself)."""

    def __init__(self, searcher: OptunaSearcher, max_concurrent: int | None = None) -> None:
        inner = (ConcurrencyLimiter(searcher, max_concurrent=max_concurrent)
                 if max_concurrent else searcher)
        super().__init__(inner)
        self.optuna = searcher
        self._ended = False  # Tune itself ended the experiment (never saved)

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._ended = False

    def is_finished(self) -> bool:
        return self._ended or not self.optuna.accepts_trials()

    def set_finished(self) -> None:
        self._ended = True
        super().set_finished()
