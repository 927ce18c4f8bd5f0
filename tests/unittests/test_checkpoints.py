"""The Checkpointer that a kill cannot leave half-written (speechbrain_xai.checkpoints)."""

import os

import pytest
import speechbrain as sb
import torch

from speechbrain_xai.checkpoints import Checkpointer


@sb.utils.checkpoints.register_checkpoint_hooks
class Saved:
    """A recoverable whose save can be made to fail half-way, as a kill would."""

    def __init__(self):
        self.value, self.fail = 0, False

    @sb.utils.checkpoints.mark_as_saver
    def save(self, path):
        if self.fail:
            raise KeyboardInterrupt("killed while saving")
        with open(path, "w") as f:
            f.write(str(self.value))

    @sb.utils.checkpoints.mark_as_loader
    def load(self, path, end_of_epoch):
        with open(path) as f:
            self.value = int(f.read())


def test_a_save_cut_short_is_not_a_checkpoint_and_is_removed(tmp_path):
    net, state = torch.nn.Linear(3, 2), Saved()
    ckpt = Checkpointer(tmp_path, {"net": net, "state": state})
    state.value = 1
    first = ckpt.save_checkpoint()
    state.value, state.fail = 2, True
    with pytest.raises(KeyboardInterrupt):  # net.ckpt written, state.ckpt not, no CKPT.yaml
        ckpt.save_checkpoint()
    unfinished = [p for p in tmp_path.iterdir() if p != first.path]
    assert len(unfinished) == 1 and (unfinished[0] / "net.ckpt").exists()
    assert [c.path for c in ckpt.list_checkpoints()] == [first.path]
    state.fail = False
    assert ckpt.recover_if_possible().path == first.path and state.value == 1
    assert list(tmp_path.iterdir()) == [first.path]  # the unfinished folder removed


def test_a_deletion_cut_short_is_not_a_checkpoint(tmp_path):
    ckpt = Checkpointer(tmp_path, {"net": torch.nn.Linear(3, 2)})
    first = ckpt.save_checkpoint()
    second = ckpt.save_checkpoint()
    os.remove(second.path / "random_state.ckpt")  # rmtree stopped half-way
    assert ckpt.recover_if_possible().path == first.path
    assert not second.path.exists()


def test_the_random_stream_continues_from_the_checkpoint(tmp_path):
    ckpt = Checkpointer(tmp_path, {"net": torch.nn.Linear(3, 2)})
    torch.manual_seed(0)
    ckpt.save_checkpoint()
    expected = torch.rand(4)
    torch.manual_seed(123)  # a new process seeds again
    ckpt.recover_if_possible()
    assert torch.equal(torch.rand(4), expected)


@pytest.mark.filterwarnings("ignore:.*missing a load path for random_state")
def test_checkpoints_of_speechbrains_checkpointer_still_load(tmp_path):
    net = torch.nn.Linear(3, 2)
    saved = sb.utils.checkpoints.Checkpointer(tmp_path, {"net": net}).save_checkpoint()
    torch.nn.init.zeros_(net.weight)
    assert Checkpointer(tmp_path, {"net": net}).recover_if_possible().path == saved.path
    assert net.weight.abs().sum() > 0


def test_saving_does_not_slow_down_with_every_save(tmp_path, monkeypatch):
    ckpt = Checkpointer(tmp_path, {"net": torch.nn.Linear(3, 2)})
    calls = []
    original = ckpt.list_checkpoints
    monkeypatch.setattr(ckpt, "list_checkpoints", lambda: calls.append(1) or original())
    per_save = []
    for _ in range(4):
        before = len(calls)
        ckpt.save_and_keep_only(meta={"error": 0.5}, min_keys=["error"], num_to_keep=2)
        per_save.append(len(calls) - before)
    assert per_save[0] == per_save[-1]  # SpeechBrain 1.1's own: one more scan per earlier save
    assert len(ckpt.list_checkpoints()) == 2
