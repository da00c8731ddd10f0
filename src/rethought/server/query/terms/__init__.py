"""Term implementations, one module per family; importing this package registers them all.

Each module registers its Term subclasses with ``@term(...)`` from ``server.query.compile``.
"""

import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
