"""Brushing (刷票) detection: pure functions over ballot records, with figures and reasons.

The design (../shared/design/vote-integrity.md, "Detection: localise, then
characterise") in code. No ORM here: `ballots.evidence.load_columns` reads the
ballots as compact columns (columns.py; `load_records` as `BallotRecord`s, which
`detect` turns into the same columns) and `detect(ballots, case_numbers)` reports on
every case. The detector
never decides; it points the committee at slices of ballots and says why, in numbers.

1. Localise (selectors.py). For each case, pick out suspect slices of its ballots:
   focused addresses and /24s, runs of burst hours, the cohort of single-choice
   ballots from fresh followers, and the ballots sharing traits that are
   over-represented among the case's against the rest of the poll (traits.py:
   dwell, follow-to-vote time, user agent, device reuse, ballot size, hour). A
   selector proves nothing on its own (a village on one Wi-Fi, a viral surge).
2. Characterise (measures.py). Score each slice of ≥ SLICE_MIN_BALLOTS ballots 0/1/2
   in five families of evidence (timing, network, device, identity, content),
   skipping the measures that read what selected it, against baselines from the
   rest of the poll or random samples of it drawn with fixed seeds (poll.py): the
   same records always give the same report.
3. Decide (verdicts.py). Enough families with evidence, one of them strong, flag a
   case; fewer mean watch or clean. The popular cases a farm adds as camouflage
   are reported as co-selected, not flagged.

The score is the sum of the deciding slice's family scores (0–10 before skipping).
What it cannot see: a human-paced "stealth farm" (real phones, home lines, human
gaps, multi-case ballots, accounts followed long before) looks like honest
supporters and is expected to slip through; that is left to the committee's
judgement rather than tuned for.

The modules, in the order detect() uses them:
- thresholds.py: every number the detector decides with, and DETECTOR_VERSION;
- records.py: BallotRecord in, CaseReport out, and the reports' JSON round trip;
- columns.py: the ballots as arrays, a few dozen bytes each (what a million costs);
- poll.py: the poll indexed once, per-ballot facts and baselines;
- selectors.py and traits.py: where to look; measures.py: what is measured;
  verdicts.py: what it adds up to; figures.py: the evidence page's histograms, addresses and ranks;
- detector.py: detect(), all of the above top to bottom;
- text.py: every word the committee reads. The rest holds figures only.
"""

from ballots.detection.detector import detect
from ballots.detection.records import (
    CLEAN,
    CO_SELECTED,
    FAMILIES,
    FLAGGED,
    WATCH,
    BallotRecord,
    CaseReport,
    FamilyScore,
    HourBin,
    SuspectSlice,
    report_from_dict,
    report_to_dict,
)
from ballots.detection.text import FAMILY_LABELS, VERDICT_LABELS
from ballots.detection.thresholds import DETECTOR_VERSION

__all__ = [
    "CLEAN",
    "CO_SELECTED",
    "DETECTOR_VERSION",
    "FAMILIES",
    "FAMILY_LABELS",
    "FLAGGED",
    "VERDICT_LABELS",
    "WATCH",
    "BallotRecord",
    "CaseReport",
    "FamilyScore",
    "HourBin",
    "SuspectSlice",
    "detect",
    "report_from_dict",
    "report_to_dict",
]
