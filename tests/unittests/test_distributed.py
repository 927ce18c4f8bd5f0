"""The evaluation sampler: every index on exactly one process, in whole batches."""

import pytest

from speechbrain_xai.data.distributed import (
    EvaluationSampler,
    gather_in_order,
    shard,
    shard_bounds,
)


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("block", [1, 2, 3])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 7, 8, 11])
def test_every_index_exactly_once_in_whole_blocks(n, world, block):
    shares = [list(EvaluationSampler(n, num_replicas=world, rank=r, block_size=block))
              for r in range(world)]
    assert [i for share in shares for i in share] == list(range(n))  # in order, none twice
    for rank, share in enumerate(shares):
        sampler = EvaluationSampler(n, num_replicas=world, rank=rank, block_size=block)
        assert len(sampler) == len(share)
        if share:  # starts on a batch boundary: its batches are the single-process ones
            assert share[0] % block == 0 and sampler.first_block == share[0] // block
    # balanced to one block; only the share holding the last item may end mid-block
    sizes = [-(-len(s) // block) for s in shares]
    assert max(sizes) - min(sizes) <= 1
    assert all(len(s) % block == 0 for s in shares if s and s[-1] != n - 1)


def test_fewer_items_than_processes():
    assert [shard_bounds(2, r, 4) for r in range(4)] == [(0, 1), (1, 2), (2, 2), (2, 2)]
    assert [list(EvaluationSampler(range(2), num_replicas=4, rank=r)) for r in range(4)] == [
        [0], [1], [], []]


def test_bad_ranks_are_refused():
    with pytest.raises(ValueError, match="rank 2 is not one of 2"):
        shard_bounds(5, 2, 2)
    with pytest.raises(ValueError, match="block_size"):
        shard_bounds(5, 0, 2, block_size=0)


def test_without_a_process_group_nothing_is_split_or_gathered():
    sampler = EvaluationSampler(["a", "b", "c"], block_size=2)
    assert (sampler.rank, sampler.num_replicas, list(sampler)) == (0, 1, [0, 1, 2])
    assert shard("abc") == ["a", "b", "c"]
    rows = [{"ID": "x"}, {"ID": "y"}]
    assert gather_in_order(rows) == rows and gather_in_order(rows, dst=0) == rows
