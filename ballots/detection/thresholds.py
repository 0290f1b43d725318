"""Every number the detector decides with, in one place, and its version.

Not published (vote-integrity.md: a brusher must not learn what is measured). A
change here changes reports: bump DETECTOR_VERSION so stored runs made under the
old numbers are not mixed with new ones.
"""

from zoneinfo import ZoneInfo

DETECTOR_VERSION = "1.2"  # 1.1: quick unfollows (identity); 1.2: shared traits
# Hours, nights and the reports' datetimes are Beijing time (UTC+8 all year).
TIME_ZONE = ZoneInfo("Asia/Shanghai")

# --- Slice selectors ----------------------------------------------------------------
# A burst hour: z = (observed − expected)/√(expected + 1) above this...
BURST_MIN_Z = 5.0
# ...and observed above this many times expected (on a big case z alone passes mild excesses)...
BURST_MIN_RATIO = 3.0
BURST_MIN_BALLOTS = 10  # in the hour, so a quiet night's handful is never a burst
# Burst hours with at most this many quiet hours between them form one slice.
BURST_MERGE_GAP_HOURS = 1
# Focused addresses count voters, not ballots: a loyal supporter voting every day
# from home must not make one.
FOCUS_MIN_ADDRESS_VOTERS = 20
FOCUS_MIN_SUBNET_VOTERS = 30  # a /24 gathers many addresses, so it needs more voters
FOCUS_MIN_SHARE = 0.8  # of the address's ballots include the case
FRESH_FOLLOW_SECONDS = 600  # "freshly followed": voted within 10 minutes of following
SLICE_MIN_BALLOTS = 25  # smaller slices are not scored: shares of a handful mean little
# Shared traits (traits.py): bands of the values a ballot is counted under...
DWELL_EDGES = (4, 8, 15, 30, 60, 120)  # seconds on the form
REUSE_EDGES = (2, 4)  # accounts that voted from the ballot's device cookie
HOUR_BAND_HOURS = 4  # Beijing hours of day per band
MAX_BALLOT_SIZE = 5  # ballots naming this many cases or more are one value
# ...a value is over-represented among a case's ballots with this many more than the
# rest of the poll predicts, and this many times as many...
TRAIT_VALUE_MIN_EXCESS = 10
TRAIT_MIN_RATIO = 3.0
# ...and a trait (its over-represented values together) is a finding with an excess of
# at least a slice's worth of ballots and z = (obs − exp)/√(exp + 1) at least this.
TRAIT_MIN_EXCESS = SLICE_MIN_BALLOTS
TRAIT_MIN_Z = 5.0
TRAIT_MAX_COMBINED = 3  # traits joined into one combined slice at most

# --- Timing ---------------------------------------------------------------------------
MIN_GAPS = 20  # fewer inter-arrival gaps give no usable IQR
MIN_GAP_SECONDS = 0.5  # simultaneous ballots: log10 needs a floor
# IQR of log10(gap in seconds): people arrive like Poisson (≈ 0.68), scripts metronomic.
GAP_IQR_STRONG = 0.20
GAP_IQR_WEAK = 0.35
NIGHT_HOURS = frozenset(range(0, 6))
# Night share: at least the floor, and a multiple of the rest of the poll's night share.
NIGHT_SHARE_STRONG = 0.20
NIGHT_FACTOR_STRONG = 3.0
NIGHT_SHARE_WEAK = 0.10
NIGHT_FACTOR_WEAK = 2.0
# A flat hour-of-day profile means something only over enough ballots and days.
FLAT_MIN_BALLOTS = 200
FLAT_MIN_SPAN_HOURS = 48
FLAT_CV_FACTOR = 0.5  # hour-of-day CV ≤ half the poll's: weak only

# --- Network (counts over one ballot per voter, against a random sample as large) ----
SUBNETS_PER_VOTER_FACTOR_STRONG = 0.2  # × a random sample's
SUBNETS_PER_VOTER_FACTOR_WEAK = 0.5
TOP_SUBNETS = 3
TOP_SUBNET_SHARE_STRONG = 0.6
TOP_SUBNET_FACTOR_STRONG = 3.0
TOP_SUBNET_SHARE_WEAK = 0.4
TOP_SUBNET_FACTOR_WEAK = 2.0
OWN_SUBNET_SHARE = 0.9  # a /24 is the slice's own when ≥ 90% of its ballots are in it
# Share of voters on the slice's own /24s: at least the floor, and the sample's plus a margin.
OWN_SUBNET_STRONG = 0.8
OWN_SUBNET_MARGIN_STRONG = 0.4
OWN_SUBNET_WEAK = 0.6
OWN_SUBNET_MARGIN_WEAK = 0.25

# --- Device ---------------------------------------------------------------------------
# Distinct user agents ÷ a random sample's: strong only. A homogeneous community
# (a campus of new phones) has a third of a sample's variety and nothing else odd.
USER_AGENT_FACTOR_STRONG = 0.2
# Voters on the slice's TOP_USER_AGENTS commonest user agents: a job run on a few
# phone models, even diluted by honest ballots; a crowd of students' new phones is
# homogeneous but spread over dozens of agents.
TOP_USER_AGENTS = 3
TOP_AGENT_SHARE_STRONG = 0.7
TOP_AGENT_FACTOR_STRONG = 3.0
TOP_AGENT_SHARE_WEAK = 0.5
TOP_AGENT_FACTOR_WEAK = 2.5
# Accounts per device cookie: at least the floor, and a multiple of the sample's.
ACCOUNTS_PER_DEVICE_STRONG = 5.0
ACCOUNTS_PER_DEVICE_FACTOR_STRONG = 3.0
ACCOUNTS_PER_DEVICE_WEAK = 2.0
ACCOUNTS_PER_DEVICE_FACTOR_WEAK = 2.0
WECHAT_MARKER = "MicroMessenger"  # in the user agent of WeChat's built-in browser
# Non-WeChat share: at least the floor, and the rest of the poll's plus a margin.
NON_WECHAT_STRONG = 0.8
NON_WECHAT_MARGIN_STRONG = 0.4
NON_WECHAT_WEAK = 0.5
NON_WECHAT_MARGIN_WEAK = 0.25
# The server already refuses < 2 s, so "too fast to have read the page" starts a little above.
FAST_DWELL_SECONDS = 4.0
FAST_DWELL_STRONG = 0.5
FAST_DWELL_FACTOR_STRONG = 5.0
FAST_DWELL_WEAK = 0.2
FAST_DWELL_FACTOR_WEAK = 3.0
# The slice's median dwell ÷ the poll's: a job reads in seconds what people read in
# tens of seconds; a loyal voter who knows the page by heart is quick too (weak).
QUICK_READING_STRONG = 0.25
QUICK_READING_WEAK = 0.4
MEDIAN_STRIDE = 10  # the poll's median dwell is read off every 10th ballot

# --- Identity -------------------------------------------------------------------------
SECONDS_FOLLOW_SECONDS = 20  # followed this few seconds before voting: strong only
SECONDS_FOLLOW_STRONG = 0.5
SECONDS_FOLLOW_FACTOR = 5.0
# Following is required to vote, so following minutes before is weak only.
FRESH_FOLLOW_WEAK = 0.5
FRESH_FOLLOW_FACTOR = 2.0
# Unfollowed within a day of voting: a paid voter leaves once the job is done, while
# honest followers who leave at all mostly do so days later.
QUICK_UNFOLLOW_SECONDS = 24 * 3600
# Quick-unfollow share: at least the floor, and a multiple of the rest of the poll's.
QUICK_UNFOLLOW_STRONG = 0.3
QUICK_UNFOLLOW_FACTOR_STRONG = 5.0
QUICK_UNFOLLOW_WEAK = 0.1
QUICK_UNFOLLOW_FACTOR_WEAK = 3.0

# --- Content --------------------------------------------------------------------------
# Single-choice share: at least the floor, and the rest of the poll's plus a margin.
SINGLE_STRONG = 0.9
SINGLE_MARGIN_STRONG = 0.35
SINGLE_WEAK = 0.75
SINGLE_MARGIN_WEAK = 0.2
# Lockstep: the same multi-case set cast ≥ LOCKSTEP_MIN_GROUP times in one hour, ≥
# LOCKSTEP_MIN_RATIO × what the set's frequency in the other hours predicts.
LOCKSTEP_MIN_GROUP = 10
LOCKSTEP_MIN_RATIO = 5.0
LOCKSTEP_STRONG = 0.5
LOCKSTEP_WEAK = 0.2
LOCKSTEP_FACTOR_WEAK = 3.0

# Fixed size: most ballots name the same number (≥ 2) of cases. Share of the commonest
# multi-case size: at least the floor, and that size's share in the rest plus a margin.
FIXED_SIZE_STRONG = 0.8
FIXED_SIZE_MARGIN_STRONG = 0.5
FIXED_SIZE_WEAK = 0.6
FIXED_SIZE_MARGIN_WEAK = 0.3
# Co-chosen set: the other cases on the slice's multi-case ballots are one of a few
# sets. Share of the CO_CHOSEN_TOP commonest, against the same share among the case's
# other multi-case ballots (both need CO_CHOSEN_MIN_BALLOTS of them).
CO_CHOSEN_TOP = 2
CO_CHOSEN_MIN_BALLOTS = 20
CO_CHOSEN_STRONG = 0.7
CO_CHOSEN_MARGIN_STRONG = 0.4
CO_CHOSEN_WEAK = 0.5
CO_CHOSEN_MARGIN_WEAK = 0.25

# --- Baseline samples -----------------------------------------------------------------
SAMPLE_REPEATS = 3  # random samples averaged per baseline...
# ...but one for slices of this many voters or more: the counts of a sample that
# large vary by a percent or so between draws, and each draw over a million-ballot
# poll takes a second.
SAMPLE_ONCE_VOTERS = 10_000
SAMPLE_SEED = 20_261_126  # fixed: the same records always give the same report

# --- Verdicts -------------------------------------------------------------------------
FLAG_MIN_FAMILIES = 3  # families with evidence (score ≥ 1)...
FLAG_MIN_STRONG = 1  # ...of which this many strong (2) flag the case
WATCH_MIN_FAMILIES = 2
# Co-selected: on ≥ this share of a flagged slice's ballots (a farm may spread its
# cover over two or three popular cases)...
CO_SELECTED_MIN_SHARE = 0.3
# ...and on this many times the share of the other ballots it is on (popular cases
# are on many ballots of every slice)...
CO_SELECTED_MIN_LIFT = 1.5
# ...and inflated by it less than this × the case it was cast for.
CO_SELECTED_SHARE_RATIO = 0.5

# --- Evidence page --------------------------------------------------------------------
TOP_ADDRESSES = 10
GAP_EDGES = (1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000)  # seconds
FOLLOW_LAG_EDGES = (20, 60, 600, 3_600, 86_400)  # seconds
