"""qcc passes: one transformation per module, registered on import.

Importing this package registers every pass module found here (modules whose
name starts with ``_`` and those in ``_HELPERS`` are helpers; the quantizer is the
``quantize`` subpackage); ``qcc passes`` lists them and
``qcc.passes.pipelines`` says which run for each target.
"""

import importlib as _importlib
import pkgutil as _pkgutil

_HELPERS = {"pipelines", "channel_links", "fusion_match"}

for _m in _pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_") and _m.name not in _HELPERS:
        _importlib.import_module(f"{__name__}.{_m.name}")
