"""Splitting an evaluation across processes (``torchrun``) with nothing repeated and nothing missing.

SpeechBrain shards only the training set under DDP, with torch's
``DistributedSampler``, which pads every process's share to the same length by
repeating items; validation and test run whole on every process. Work that
writes one result per item (explanations, per-clip rows, predictions, search
settings) needs each item done exactly once, so evaluation is split here:

* :func:`shard_bounds`: the contiguous range of items of one process. Items
  are cut into blocks (the batches: ``block_size`` = the batch size) and the
  blocks are dealt out in order, as evenly as possible, so every batch of a
  process is a batch of the single-process run, holding the same items (a
  batch's padding, and anything seeded per batch, come out the same);
  processes beyond the number of blocks get nothing;
* :class:`EvaluationSampler`: that range as a sampler for SpeechBrain's data
  loaders (``test_loader_kwargs={"sampler": ...}``);
* :func:`shard`: that range of a plain list (the command line's inputs);
* :func:`gather_in_order`: every process's results, concatenated in rank
  order, on every process (or on one); with contiguous shares that is the
  order of the data set. Without a process group it returns its input.

Example
-------
>>> [shard_bounds(7, rank, 3, block_size=2) for rank in range(3)]
[(0, 4), (4, 6), (6, 7)]
>>> [list(EvaluationSampler(3, rank=r, num_replicas=4)) for r in range(4)]
[[0], [1], [2], []]
>>> shard(["a", "b", "c"])  # not distributed: everything
['a', 'b', 'c']
>>> gather_in_order([{"ID": "a"}])  # not distributed: unchanged
[{'ID': 'a'}]
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, TypeVar, Union

import torch
from speechbrain.utils.distributed import is_distributed_initialized
from torch.utils.data import Sampler

T = TypeVar("T")


def rank_and_world_size() -> Tuple[int, int]:
    """``(rank, world size)`` of this process; ``(0, 1)`` without a process group."""
    if not is_distributed_initialized():
        return 0, 1
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def shard_bounds(num_items: int, rank: int, num_replicas: int, block_size: int = 1) -> Tuple[int, int]:
    """``(start, stop)``: the items of process ``rank`` out of ``num_replicas``.

    The ``ceil(num_items / block_size)`` blocks are split in order; the first
    ``blocks % num_replicas`` processes take one block more than the others.
    The ranges of all processes tile ``range(num_items)`` exactly.
    """
    if num_replicas < 1 or not 0 <= rank < num_replicas:
        raise ValueError(f"rank {rank} is not one of {num_replicas} processes.")
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, got {block_size}.")
    blocks = -(-num_items // block_size)
    per_rank, extra = divmod(blocks, num_replicas)
    first = rank * per_rank + min(rank, extra)
    count = per_rank + (rank < extra)
    return min(first * block_size, num_items), min((first + count) * block_size, num_items)


class EvaluationSampler(Sampler):
    """This process's share of a data set for evaluation: a contiguous range
    of indices (:func:`shard_bounds`), in order, every index in exactly one
    process's share (unlike torch's ``DistributedSampler``, nothing repeated).

    Arguments
    ---------
    data : Dataset or int
        The data set (its length is used) or the number of items.
    num_replicas : int, optional
        Number of processes (default: the process group's world size, 1 without one).
    rank : int, optional
        This process (default: its rank in the process group, 0 without one).
    block_size : int
        Items kept together (the batch size: each batch of a process is then
        a batch of the single-process run).
    """

    def __init__(self, data: Union[Sequence, int], num_replicas: Optional[int] = None,
                 rank: Optional[int] = None, block_size: int = 1):
        group_rank, group_size = rank_and_world_size()
        self.num_replicas = group_size if num_replicas is None else int(num_replicas)
        self.rank = group_rank if rank is None else int(rank)
        self.num_items = data if isinstance(data, int) else len(data)
        self.block_size = int(block_size)
        self.start, self.stop = shard_bounds(self.num_items, self.rank, self.num_replicas,
                                             self.block_size)

    @property
    def first_block(self) -> int:
        """Index of this share's first block (batch) in the whole data set."""
        return self.start // self.block_size

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self) -> int:
        return self.stop - self.start


def shard(items: Sequence[T], block_size: int = 1) -> List[T]:
    """This process's contiguous share of ``items`` (all of them without a process group)."""
    rank, world = rank_and_world_size()
    start, stop = shard_bounds(len(items), rank, world, block_size)
    return list(items[start:stop])


def gather_in_order(part: Sequence[T], dst: Optional[int] = None) -> Optional[List[T]]:
    """Every process's ``part`` (picklable items), concatenated in rank order.

    With the contiguous shares of :func:`shard` and :class:`EvaluationSampler`
    that is the items' order in the data set. All processes must call it.

    Arguments
    ---------
    part : list
        This process's results.
    dst : int, optional
        Only this rank receives the merged list (the others get None);
        default: every process does.
    """
    if not is_distributed_initialized():
        return list(part)
    world = torch.distributed.get_world_size()
    parts: List = [None] * world
    if dst is None:
        torch.distributed.all_gather_object(parts, list(part))
    else:
        torch.distributed.gather_object(list(part), parts if torch.distributed.get_rank() == dst
                                        else None, dst=dst)
        if torch.distributed.get_rank() != dst:
            return None
    return [item for p in parts for item in p]
