"""The supernet trainer's epoch records count what it fed and touched: forward/backward passes,
the paths every pass switched on (per cell, edge and op) and, per candidate-op weight tensor, the
steps whose gradient had a non-zero entry; all checked against a spy on the trainer."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_tools.supernet.config import TrainConfig
from nasbench_tools.supernet.train import train_supernet
from tests.supernet._spies import TrainerSpy

SMALL = {
    "model": {"C": 4, "N": 1}, "dataset": "digits", "subset": 96, "valid_subset": 32,
    "batch_size": 32, "epochs": 1, "lr": 0.1, "augment": "none", "log_every": 1000, "seed": 0,
}  # fmt: skip


@pytest.mark.parametrize("sampler", ["fairnas", "spos"])
def test_epoch_records_count_passes_draws_and_updated_op_weights(sampler, tmp_path, monkeypatch):
    spy = TrainerSpy(monkeypatch)
    result = train_supernet(TrainConfig.from_dict({**SMALL, "sampler": sampler}), tmp_path,
                            progress=False)  # fmt: skip
    (epoch,) = result.history
    assert len(spy.steps) == epoch["steps"] == 3
    forwards = [f for step in spy.steps for f in step.forwards]
    assert epoch["passes"] == len(forwards) == (5 if sampler == "fairnas" else 1) * 3
    assert epoch["images"] == 3 * 32
    space = spy.model.space
    on = np.zeros((space.num_cells, space.num_blocks, space.num_paths), dtype=int)
    for f in forwards:
        on += np.broadcast_to(f.choice != -1, on.shape)
    assert np.array_equal(np.array(epoch["op_draws"]), on)
    if sampler == "fairnas":  # strict fairness: every op of every cell once per step
        assert (on == 3).all()
    names = [n for n in spy.steps[0].grads if ".edges." in n]
    assert sorted(epoch["op_updates"]) == sorted(names)
    for name in names:
        moved = sum(
            step.grads[name] is not None and bool(step.grads[name].ne(0).any())
            for step in spy.steps
        )
        assert epoch["op_updates"][name] == moved, name
    if sampler == "spos":  # one op per edge and step: most op weights wait
        assert 0 < sum(epoch["op_updates"].values()) < len(names) * 3 / 2
