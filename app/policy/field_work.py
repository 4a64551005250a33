"""Rules of field work."""

from __future__ import annotations

# A visit logged farther than this from the village's recorded centre is kept but flagged for
# review: fabricated visits are a known fraud. Counties may set VISIT_MAX_DISTANCE_KM.
DEFAULT_VISIT_MAX_DISTANCE_KM = 5.0
