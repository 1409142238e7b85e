"""Whether a data set fills one global batch: checked before a job starts, so that the user
reads which option to change instead of a traceback after an empty progress bar."""

from __future__ import annotations

from ffdetect.errors import UserError


class BatchSizeError(UserError, ValueError):
    """``data.batch_size`` does not fit the data (or the number of processes)."""


def batches_per_epoch(samples: int, batch_size: int, what: str, processes: int = 1) -> int:
    """Full global batches of ``batch_size`` in ``samples`` (split over ``processes``);
    :class:`BatchSizeError` names the option to change when there is none or the batch does
    not split evenly. ``what`` names the samples (``"training faces"``)."""
    if batch_size % processes:
        raise BatchSizeError(
            f"data.batch_size={batch_size} does not split over {processes} processes: "
            f"set data.batch_size to a multiple of {processes}"
        )
    if samples >= batch_size:
        return samples // batch_size
    largest = samples - samples % processes
    if largest < 1:
        raise BatchSizeError(
            f"{samples} {what} do not fill one batch over {processes} process(es): add data"
            + (" or launch fewer processes" if processes > 1 else "")
        )
    choice = f"{largest} or less"
    if processes > 1:
        choice = f"{largest} or a smaller multiple of {processes}"
    raise BatchSizeError(
        f"{samples} {what} are fewer than one batch (data.batch_size={batch_size}): "
        f"set data.batch_size={choice}"
    )


def planned_steps(
    samples: int,
    batch_size: int,
    what: str,
    epochs: int,
    max_steps: int | None,
    processes: int = 1,
) -> int:
    """The updates a run will make: ``epochs`` times :func:`batches_per_epoch` (which refuses
    data smaller than one batch), capped at ``max_steps`` when given."""
    steps = epochs * batches_per_epoch(samples, batch_size, what, processes)
    return steps if max_steps is None else min(steps, max_steps)
