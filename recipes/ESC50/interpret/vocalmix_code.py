"""Loads a VocalMix interpretation script as a module, for the ESC-50 recipes.

The ESC-50 recipes reuse the VocalMix recipes' code (only the data differ):
:func:`load_vocalmix_script` imports ``recipes/VocalMix/interpret/<name>.py``
under the module name ``vocalmix_<name>`` (its ``__main__`` block does not run).

The VocalMix scripts import their siblings by plain name (``am_search.py``:
``from train_gan import ...``). This folder has scripts with the same names,
so while a VocalMix script is executed its own folder comes first on
``sys.path`` and same-named modules already imported from here are set aside
(and put back afterwards).
"""

import importlib.util
import os
import sys
from types import ModuleType

VOCALMIX_FOLDER = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "VocalMix", "interpret"))


def load_vocalmix_script(name: str) -> ModuleType:
    """``recipes/VocalMix/interpret/<name>.py`` as the module ``vocalmix_<name>`` (cached)."""
    key = f"vocalmix_{name}"
    if key in sys.modules:
        return sys.modules[key]
    siblings = {f[:-3] for f in os.listdir(VOCALMIX_FOLDER) if f.endswith(".py")}
    set_aside = {s: sys.modules.pop(s) for s in siblings if s in sys.modules}
    sys.path.insert(0, VOCALMIX_FOLDER)
    try:
        spec = importlib.util.spec_from_file_location(key, os.path.join(VOCALMIX_FOLDER, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(VOCALMIX_FOLDER)
        for sibling in siblings:  # the VocalMix siblings it imported by plain name
            sys.modules.pop(sibling, None)
        sys.modules.update(set_aside)
    sys.modules[key] = module
    return module
