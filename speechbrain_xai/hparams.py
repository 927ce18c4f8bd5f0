"""Which recipe hyperparameters a library function reads.

Recipes keep every top-level YAML key in use (a consistency test checks it).
Library code that reads a recipe's ``hparams`` itself declares the keys with
:func:`reads_hparams`, so the check sees them, and can refuse a missing one
with :func:`require_hparams`.

Example
-------
>>> @reads_hparams("data_folder", "seed")
... def prepare(hparams):
...     require_hparams(hparams, prepare, "prepare")
...     return hparams["data_folder"]
>>> prepare.hparams_keys
('data_folder', 'seed')
>>> prepare({"data_folder": "data"})
Traceback (most recent call last):
 ...
ValueError: prepare needs the hyperparameters ['seed'] (add them to the YAML or pass --seed).
"""

from typing import Callable, Iterable, Mapping, TypeVar

T = TypeVar("T")


def reads_hparams(*keys: str, optional: Iterable[str] = ()) -> Callable[[T], T]:
    """Marks a function or class as reading these hyperparameters
    (``hparams_keys``: all of them; ``hparams_required``: those without
    ``optional``)."""
    def mark(obj: T) -> T:
        obj.hparams_required = tuple(keys)
        obj.hparams_keys = tuple(keys) + tuple(optional)
        return obj
    return mark


def require_hparams(hparams, reader, where: str) -> None:
    """Raises a ``ValueError`` naming the required keys of ``reader`` missing from ``hparams``."""
    have = hparams if isinstance(hparams, Mapping) else vars(hparams)
    missing = [k for k in getattr(reader, "hparams_required", ()) if k not in have]
    if missing:
        flags = " ".join(f"--{k}" for k in missing[:2])
        raise ValueError(f"{where} needs the hyperparameters {missing} "
                         f"(add them to the YAML or pass {flags}).")
