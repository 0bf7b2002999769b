"""``raykit.ReportLog``: what every Ray Train worker reported, as the run's controller saw it.

In Ray 2.60 (Train V2) a run is driven by a *controller*, an actor that starts the workers, polls
them and collects each round of ``ray.train.report`` calls. ``Result.metrics`` keeps only rank
0's metrics, and only those reported with a checkpoint. A ``ReportLog`` passed in
``RunConfig(callbacks=[...])`` is a ``ray.train.UserCallback``: the controller calls it after
every round with the metrics of *every* worker (index = world rank), and after a worker fails.
It forwards what it is told to a small actor, so the notebook can read it back after ``fit()``,
on a laptop or on a cluster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from ray.train import UserCallback

from .exceptions import ConfigError, RayNotRunning, one_line


@dataclass(frozen=True)
class TrainReport:
    """One round of ``ray.train.report``: ``metrics[rank]`` is what that worker reported."""

    run: str
    run_id: str
    time: float  # the controller's clock when the round was complete
    metrics: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: str | None = None  # where Ray Train persisted the round's checkpoint
    # When the run's controller took this callback: the run's start.
    controller_started: float | None = None

    @property
    def world_size(self) -> int:
        """How many workers reported in this round."""
        return len(self.metrics)


@dataclass(frozen=True)
class TrainFailure:
    """Workers that failed during a run: ``errors[rank]`` is the error, as text."""

    run: str
    run_id: str
    time: float
    errors: dict[int, str] = field(default_factory=dict)


def _store_class():
    import ray

    @ray.remote(num_cpus=0)
    class _ReportStore:
        """Holds what the controller forwarded; one per ReportLog."""

        def __init__(self, keep: int):
            self.keep = keep
            self.events: list = []

        def add(self, event) -> None:
            self.events.append(event)
            del self.events[: -self.keep]

        def all(self) -> list:
            return list(self.events)

    return _ReportStore


class ReportLog(UserCallback):
    """A Ray Train callback that keeps every worker's reports and every worker failure.

    Create it while Ray runs, pass it in ``RunConfig(callbacks=[log])``, run ``fit()``, then read
    ``log.reports(result)``. One log can serve several runs: each call names the run it reads.

    Parameters
    ----------
    keep
        The most events (report rounds and failures, all runs together) kept; older ones go.

    Raises
    ------
    ConfigError
        ``keep`` is not a positive whole number.
    RayNotRunning
        Ray is not running (call ``raykit.init()`` first).
    """

    def __init__(self, keep: int = 10_000):
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ConfigError(f"keep={keep!r} must be a whole number of events, at least 1.")
        import ray

        if not ray.is_initialized():
            raise RayNotRunning("raykit.ReportLog()")
        self._store = _store_class().remote(keep)
        self._taken_at: float | None = None

    def __setstate__(self, state: dict) -> None:
        # Unpickled in the controller's process when fit() starts the run: note the moment.
        self.__dict__.update(state)
        self._taken_at = time.time()

    # -- called by Ray Train's controller (in its own process) --------------------------------

    def after_report(self, run_context, metrics, checkpoint) -> None:
        """Forward one round of reports (the controller calls this; do not call it yourself)."""
        self._store.add.remote(
            TrainReport(
                run=run_context.get_run_config().name,
                run_id=run_context.run_id,
                time=time.time(),
                metrics=[dict(m) for m in metrics],
                checkpoint=checkpoint.path if checkpoint is not None else None,
                controller_started=self._taken_at,
            )
        )

    def after_exception(self, run_context, worker_exceptions) -> None:
        """Forward the errors of failed workers (the controller calls this)."""
        self._store.add.remote(
            TrainFailure(
                run=run_context.get_run_config().name,
                run_id=run_context.run_id,
                time=time.time(),
                errors={int(rank): one_line(exc) for rank, exc in worker_exceptions.items()},
            )
        )

    # -- read back in the notebook ---------------------------------------------------------------

    def _fetch(self) -> list:
        import ray

        return ray.get(self._store.all.remote())

    def _events(self, run: Any) -> list:
        name = _run_name(run)
        events = self._fetch()
        if name is None:  # the last run logged
            if not events:
                return []
            name = events[-1].run
        mine = [e for e in events if e.run == name]
        if mine:  # a name used again: only its last run
            last_id = mine[-1].run_id
            mine = [e for e in mine if e.run_id == last_id]
        # The controller may tell of one failure at several polls before it restarts the group.
        return [
            e
            for i, e in enumerate(mine)
            if not (isinstance(e, TrainFailure) and i and isinstance(mine[i - 1], TrainFailure))
        ]

    def reports(self, run: Any = None) -> list[TrainReport]:
        """Every round of reports of one run, oldest first.

        Parameters
        ----------
        run
            The run: its ``Result`` (from ``fit()``), or its name (``RunConfig(name=...)``);
            ``None`` for the last run logged.

        Returns
        -------
        list of TrainReport
            Empty when that run reported nothing to this log (was the log in its callbacks?).
        """
        return [e for e in self._events(run) if isinstance(e, TrainReport)]

    def failures(self, run: Any = None) -> list[TrainFailure]:
        """The worker failures of one run (``run`` as in :meth:`reports`), oldest first."""
        return [e for e in self._events(run) if isinstance(e, TrainFailure)]

    def attempts(self, run: Any = None) -> list[list[TrainReport]]:
        """The run's reports split at each failure: one list per attempt of the worker group."""
        attempts: list[list[TrainReport]] = [[]]
        for event in self._events(run):
            if isinstance(event, TrainFailure):
                attempts.append([])
            else:
                attempts[-1].append(event)
        return attempts

    def timing(
        self, run: Any = None, epoch_key: str = "epoch_s", compute_key: str = "compute_s"
    ) -> TrainTiming:
        """Where a run's time went, from the controller's clock and rank 0's own timers.

        Parameters
        ----------
        run
            As in :meth:`reports`.
        epoch_key, compute_key
            The metrics in which the training function reported how long each epoch took, and how
            much of that was forward and backward steps.

        Returns
        -------
        TrainTiming
            Printing it shows the run's time, its start-up and one epoch split in three.
        """
        reports = self.reports(run)
        if len(reports) < 2:
            raise ConfigError(
                f"run={run!r} has {len(reports)} report(s) in this log; timing needs at least two "
                "(pass the log in RunConfig(callbacks=[...]) and report every epoch)."
            )
        first = reports[0].metrics[0]
        if epoch_key not in first or compute_key not in first:
            raise ConfigError(
                f"epoch_key={epoch_key!r} and compute_key={compute_key!r} must be metrics that "
                f"rank 0 reported; it reported {sorted(first)}."
            )
        started = reports[0].controller_started or reports[0].time
        later = reports[1:]  # the first epoch includes warm-up
        gaps = [b.time - a.time for a, b in zip(reports, later, strict=False)]
        epoch = [r.metrics[0][epoch_key] for r in later]
        compute = [r.metrics[0][compute_key] for r in later]
        return TrainTiming(
            run=reports[0].run,
            epochs=len(reports),
            workers=reports[0].world_size,
            run_s=reports[-1].time - started,
            startup_s=reports[0].time - first[epoch_key] - started,
            compute_s=_mean(compute),
            data_s=_mean(e - c for e, c in zip(epoch, compute, strict=True)),
            report_s=_mean(g - e for g, e in zip(gaps, epoch, strict=True)),
        )

    def __repr__(self) -> str:
        return "ReportLog()"


@dataclass(frozen=True)
class TrainTiming:
    """A run's time: from the controller's start to the last report, and one epoch's parts."""

    run: str
    epochs: int
    workers: int
    run_s: float  # the controller's start to the last report
    startup_s: float  # the controller's start to the first epoch's start (worker group, setup)
    compute_s: float  # mean per epoch after the first: forward and backward steps
    data_s: float  # ... waiting for Ray Data's next batch
    report_s: float  # ... in ray.train.report with a checkpoint

    @property
    def epoch_s(self) -> float:
        """One epoch, mean after the first: the sum of its three parts."""
        return self.compute_s + self.data_s + self.report_s

    @property
    def parts(self) -> dict[str, float]:
        """The three parts of an epoch, by name."""
        return {
            "computing": self.compute_s,
            "waiting for data": self.data_s,
            "reporting the checkpoint": self.report_s,
        }

    def __str__(self) -> str:
        lines = [
            f"Ray Train run: {self.run_s:.1f} s for {self.epochs} epochs on {self.workers} "
            "workers (controller start to last report)",
            f"  of which start-up, before the first epoch began: {self.startup_s:.1f} s",
            f"  one epoch (mean after the first): {self.epoch_s:.2f} s =",
        ]
        lines += [f"    {seconds:6.2f} s {part}" for part, seconds in self.parts.items()]
        lines.append(f"  largest part: {max(self.parts, key=self.parts.get)}")
        return "\n".join(lines)


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def _run_name(run: Any) -> str | None:
    """The run name of ``run``: a ``Result`` (its folder's name), a name, or None."""
    if run is None or isinstance(run, str) and run:
        return run
    path = getattr(run, "path", None)
    if hasattr(run, "metrics") and hasattr(run, "checkpoint"):
        if not path:
            raise ConfigError(
                "run= is the Result of a local-mode run (num_workers=0): no controller ran it, so "
                "no callback saw its reports. Read its metrics from the Result itself."
            )
        return PurePath(str(path)).name
    raise ConfigError(
        f"run={run!r} must be the Result that fit() returned, a run's name, or None for the "
        "last run logged."
    )
