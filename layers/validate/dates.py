"""Implausible incident dates: in the future, or a few set apart from all the others.

A records system fills an unknown date with a placeholder (1900-01-01, 1970-01-01, the
day the system went live) and a typo moves a year by decades. Such dates would pool a
placeholder year with real ones, or start an accuracy check in 1966.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["STRAY_GAP", "STRAY_SHARE", "stray_dates"]

#: A gap in the dates this long sets apart the few incidents on its far side.
STRAY_GAP = pd.Timedelta(days=730)
#: The largest share of the incidents that may be set apart by such a gap.
STRAY_SHARE = 0.01


def stray_dates(times: pd.Series) -> pd.Series:
    """Which times are implausible: in the future, or a few cut off from the rest.

    A time is stray when it lies after tomorrow, or on the far side of a gap of at least
    :data:`STRAY_GAP` (two years) with at most :data:`STRAY_SHARE` (1%) of the incidents
    on that side: placeholder dates such as 1966-01-01 or 1900-01-01 at the start of a
    recent history, or a typo'd year at its end. A long history with steady incidents has
    no such gap, so every year of it is kept.

    Parameters
    ----------
    times
        Incident times (no missing values), naive or time-zone aware.

    Returns
    -------
    pandas.Series
        Booleans on the same index.
    """
    stray = pd.Series(False, index=times.index)
    if times.empty:
        return stray
    utc = times.dt.tz_convert("UTC") if times.dt.tz is not None else times.dt.tz_localize("UTC")
    clock = utc.dt.tz_localize(None)
    stray |= clock > pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta(days=1)
    ordered = np.sort(clock.loc[~stray].to_numpy())
    if len(ordered) < 2:
        return stray
    allowed = int(STRAY_SHARE * len(ordered))
    gaps = np.flatnonzero(np.diff(ordered) >= STRAY_GAP.to_timedelta64())
    before = gaps[gaps + 1 <= allowed]
    if before.size:
        stray |= clock < ordered[before[-1] + 1]
    after = gaps[len(ordered) - gaps - 1 <= allowed]
    if after.size:
        stray |= clock > ordered[after[0]]
    return stray
