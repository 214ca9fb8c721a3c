"""Suite-wide test settings.

In CI (``CI`` set, as the CI runner does) hypothesis runs derandomized: the examples it
tries are a fixed function of each test, so a green run stays green and a red one is
reproducible; locally it keeps exploring new examples on every run."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
