"""What the command line prints: notes and warnings, and the end of a sweep."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sweeper.cli.args import runs_dir
from sweeper.store.layout import HISTORY_CSV, TRIALS_CSV

if TYPE_CHECKING:
    from sweeper.driver.finish import SweepOutcome

__all__ = ["PrintNotifier", "print_outcome"]


class PrintNotifier:
    """The library's notes and warnings, printed as lines on stdout."""

    def note(self, text: str) -> None:
        print(text, flush=True)

    def warn(self, text: str) -> None:
        print(f"warning: {text}", flush=True)


def print_outcome(outcome: SweepOutcome, folder: Path) -> None:
    from sweeper.driver.wiring import tracking_config
    from sweeper.observe.tracking.config import redact
    from sweeper.store.pareto import describe_values, sweep_pick
    from sweeper.store.specs import load_spec_for

    spec = load_spec_for(outcome.name, folder).spec
    best = outcome.best
    counts = outcome.trials["status"].value_counts().to_dict() if not outcome.trials.empty \
        else {}
    print(f"sweep {outcome.name} {outcome.status.value}: "
          + ", ".join(f"{n} {s}" for s, n in counts.items()))
    if best is not None:
        print(f"best trial {best.number}: {outcome.metric} {best.score:.4f} "
              f"at epoch {best.best_epoch} ({best.status})")
        print("  " + ", ".join(f"{k}={v}" for k, v in best.params.items()))
        rule = sweep_pick(spec)
        if rule is not None:
            print(f"  picked by {rule} from the Pareto front: "
                  f"{describe_values(best.row, spec.objectives)}")
    if outcome.test is not None:
        print(f"test: the exported model scored {outcome.test.describe()}")
    flag = "" if folder == runs_dir(None) else f" --runs-dir {folder}"
    print(f"tables: {outcome.folder / TRIALS_CSV}, {outcome.folder / HISTORY_CSV}; "
          f"`sweeper results {outcome.name}{flag}`")
    tracking = tracking_config(spec, folder)
    if tracking.embedded:
        print(f"MLflow: `sweeper ui{flag}`, then open http://127.0.0.1:5000 "
              f"(experiment {tracking.experiment!r})")
    else:
        print(f"MLflow: experiment {tracking.experiment!r} at {redact(tracking.uri)}")
