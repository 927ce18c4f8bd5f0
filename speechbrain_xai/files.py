"""Writing outputs so that a killed process never leaves a half-written one.

Every file the package writes for a user (explanations, tables, manifests,
checkpoints of searches, exported folders) goes through these helpers:

* :func:`atomic_open` (and :func:`write_text`, :func:`write_json`,
  :func:`torch_save`): the file is written under a temporary name in the same
  folder and renamed into place, so readers see the old file or the new one,
  never a truncated one;
* :func:`staged_folder`: a whole folder is built beside its destination and
  swapped in at the end (the previous folder, if any, is replaced as a whole);
* :func:`move_into`: files staged in a temporary folder are moved into a
  shared folder, a chosen marker file last (its presence says the rest is
  complete).

What the package reads back with ``torch.load`` goes through
:func:`torch_load` (``weights_only=True``): tensors and plain containers load,
a file holding any other pickled object is refused instead of run.

Temporaries start with a dot and are removed on failure;
:func:`remove_stale` clears those left by a killed process. What is moved
into place gets the permissions a plain ``open`` or ``mkdir`` would give
(the process's umask), not the private ones of ``tempfile``: outputs can be
shared or served as they are.

Example
-------
>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> write_json(os.path.join(folder, "a.json"), {"x": 1})
>>> sorted(os.listdir(folder))
['a.json']
>>> os.stat(os.path.join(folder, "a.json")).st_mode & 0o777 == 0o666 & ~_current_umask()
True
>>> with staged_folder(os.path.join(folder, "out")) as tmp:
...     write_text(os.path.join(tmp, "b.txt"), "done")
>>> sorted(os.listdir(folder)), os.listdir(os.path.join(folder, "out"))
(['a.json', 'out'], ['b.txt'])
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from typing import Iterator, Optional

_TMP = ".tmp_"
_OLD = ".old_"


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _tmp_prefix(path: str) -> str:
    return f".{os.path.basename(os.path.normpath(path))}{_TMP}"


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "w", **kwargs) -> Iterator:
    """Opens a temporary file beside ``path``; renames it to ``path`` when the
    block ends without an error (else removes it).

    Arguments
    ---------
    path : str
        The final file.
    mode : str
        ``"w"`` (text, UTF-8 unless ``encoding`` is given) or ``"wb"``.
    **kwargs
        Passed to ``open`` (``newline``, ``encoding``...).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', got {mode!r}.")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), dir=folder)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's files are private (0600)
    if mode == "w":
        kwargs.setdefault("encoding", "utf-8")
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_text(path: str, text: str) -> None:
    """Writes ``text`` to ``path`` atomically."""
    with atomic_open(path, "w", newline="") as f:
        f.write(text)


def write_json(path: str, obj, indent: int = 2, **kwargs) -> None:
    """Writes ``obj`` as JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=indent, **kwargs) + "\n")


def torch_save(obj, path: str) -> None:
    """``torch.save(obj, path)``, atomically."""
    import torch

    with atomic_open(path, "wb") as f:
        torch.save(obj, f)


def torch_load(path: str, map_location=None):
    """``torch.load(path, weights_only=True)``: tensors, numbers, strings and
    containers of them (state dicts, search states). A file holding any other
    pickled object (which could run code when unpickled) raises a one-line
    ``ValueError`` and nothing of it is executed."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0][:160]
        raise ValueError(f"{path}: holds more than tensors and plain values ({first}), so it is not "
                         "loaded: a pickled object can run code. Load only files you trust; save "
                         "state dicts (module.state_dict()), not objects.") from None


def _swap_in(tmp: str, final: str) -> None:
    if os.path.isdir(final):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(final)}{_OLD}",
                               dir=os.path.dirname(final))
        os.replace(final, os.path.join(old, "folder"))
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


@contextlib.contextmanager
def staged_folder(final: str) -> Iterator[str]:
    """Yields a temporary folder beside ``final``; when the block ends without
    an error it replaces ``final`` as a whole (else it is removed and
    ``final`` is left as it was)."""
    final = os.path.abspath(final)
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=_tmp_prefix(final), dir=parent)
    os.chmod(tmp, 0o777 & ~_UMASK)  # it becomes ``final``; mkdtemp's folders are private (0700)
    try:
        yield tmp
        _swap_in(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def move_into(staging: str, folder: str, last_suffix: Optional[str] = None) -> None:
    """Moves every file of ``staging`` into ``folder`` (replacing same-named
    files), those ending with ``last_suffix`` last."""
    os.makedirs(folder, exist_ok=True)
    names = sorted(os.listdir(staging),
                   key=lambda n: bool(last_suffix) and n.endswith(last_suffix))
    for name in names:
        os.replace(os.path.join(staging, name), os.path.join(folder, name))


@contextlib.contextmanager
def staged_files(folder: str, last_suffix: Optional[str] = None) -> Iterator[str]:
    """Yields a temporary folder inside ``folder``; files written there are
    moved into ``folder`` when the block ends without an error (those ending
    with ``last_suffix`` last), and nothing is moved otherwise."""
    os.makedirs(folder, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"{_TMP}", dir=folder)
    try:
        yield tmp
        move_into(tmp, folder, last_suffix)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_stale(folder: str) -> None:
    """Removes the temporaries that a killed process left in ``folder``."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if name.startswith(".") and (_TMP in name or _OLD in name):
            path = os.path.join(folder, name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
