"""Pure scheduling maths: no Django here (an import-linter contract enforces it).

Frozen dataclasses in, values out, `now` always passed in. The appointment book builds
on this package.
"""

from chairtime.engine.availability import availability, free_intervals
from chairtime.engine.checks import check_proposal
from chairtime.engine.openings import find_openings

__all__ = ["availability", "check_proposal", "find_openings", "free_intervals"]
