"""The detector's words: labels, metric names and reasons, in Chinese.

The core computes figures; this module says them. The committee reads these words
on the monitoring page and in `detect_brushing`, and stored runs keep them in their
JSON, so rewording shows in every new report: change them on purpose only.
"""

from datetime import datetime
from itertools import pairwise

from ballots.detection.measures import Measure
from ballots.detection.records import CLEAN, CO_SELECTED, FLAGGED, WATCH
from ballots.detection.thresholds import (
    CO_CHOSEN_TOP,
    DWELL_EDGES,
    FAST_DWELL_SECONDS,
    FLAG_MIN_FAMILIES,
    FLAG_MIN_STRONG,
    FOCUS_MIN_SHARE,
    FRESH_FOLLOW_SECONDS,
    GAP_EDGES,
    HOUR_BAND_HOURS,
    LOCKSTEP_MIN_GROUP,
    MAX_BALLOT_SIZE,
    QUICK_UNFOLLOW_SECONDS,
    REUSE_EDGES,
    SECONDS_FOLLOW_SECONDS,
    TOP_SUBNETS,
    TOP_USER_AGENTS,
    WATCH_MIN_FAMILIES,
)

# The verdicts as the committee reads them (the command's table, the alerts).
VERDICT_LABELS = {FLAGGED: "标记", WATCH: "关注", CO_SELECTED: "陪投", CLEAN: "正常"}
FAMILY_LABELS = {
    "timing": "时间",
    "network": "网络",
    "device": "设备",
    "identity": "身份",
    "content": "内容",
}
SKIPPED_METRIC = "选出切片的依据，不计分"
# Histogram rows: one label per bin of GAP_EDGES and FOLLOW_LAG_EDGES (seconds).
GAP_LABELS = (
    "<1 s",
    *(f"{low:g}–{high:g} s" for low, high in pairwise(GAP_EDGES)),
    f"≥{GAP_EDGES[-1]:g} s",
)
FOLLOW_LAG_LABELS = ("<20 s", "20–60 s", "1–10 min", "10–60 min", "1–24 h", "≥1 d")
UNKNOWN_LAG = "unknown"  # followers with no follow time


# --- Suspect slices -------------------------------------------------------------------

_FOCUS_WORDS = {"address": ("地址集中", "地址"), "subnet": ("网段集中", "/24")}


def focus_description(kind: str, keys: list[str], ballots: int, voters: int) -> str:
    """Why a focused-address (or /24) slice was picked; names the first three."""
    label, unit = _FOCUS_WORDS[kind]
    shown = "、".join(keys[:3]) + ("等" if len(keys) > 3 else "")
    return (
        f"{label}：{len(keys)} 个{unit}（{shown}）的选票 ≥ {FOCUS_MIN_SHARE:.0%} 都选了本案例，"
        f"本案例在这里得 {ballots} 票，来自 {voters} 位投票人"
    )


def burst_description(
    *, first: datetime, last: datetime, hours: int, observed: int, expected: float, z: float
) -> str:
    """Why a run of burst hours was picked: from `first` to `last` (Beijing time)."""
    return (
        f"突发时段 {first:%m-%d %H:%M}–{last:%H:%M}（北京时间，{hours} 个异常小时）："
        f"观测 {observed} 票，预期 {expected:.1f} 票，最高 z={z:.1f}"
    )


def cohort_description(ballots: int) -> str:
    return (
        f"单选新关注：只选本案例、且关注后 {FRESH_FOLLOW_SECONDS // 60} 分钟内投出的选票 "
        f"{ballots} 票"
    )


# --- Shared traits ---------------------------------------------------------------------

TRAIT_LABELS = {
    "dwell": "页面停留",
    "follow_lag": "关注到投票",
    "user_agent": "浏览器标识",
    "ua_family": "系统与微信版本",
    "device_reuse": "同一设备投票的账号",
    "ballot_size": "选择案例数",
    "hour": "投票时段",
}
DWELL_LABELS = (
    f"<{DWELL_EDGES[0]:g} 秒",
    *(f"{low:g}–{high:g} 秒" for low, high in pairwise(DWELL_EDGES)),
    f"≥{DWELL_EDGES[-1]:g} 秒",
)
REUSE_LABELS = (  # REUSE_EDGES starts at 2 accounts: one account is the first band
    "1 个",
    *(f"{low}–{high - 1} 个" for low, high in pairwise(REUSE_EDGES)),
    f"≥{REUSE_EDGES[-1]} 个",
)
UNKNOWN_FOLLOW = "关注时间不明"
SHOWN_VALUES = 3  # values named per trait; the rest are counted


def trait_value(trait: str, value: int, labels: dict[int, str]) -> str:
    """One value of a trait in words (`labels`: the table's names for string traits)."""
    if trait == "dwell":
        return DWELL_LABELS[value]
    if trait == "follow_lag":
        return UNKNOWN_FOLLOW if value < 0 else FOLLOW_LAG_LABELS[value]
    if trait == "device_reuse":
        return REUSE_LABELS[value]
    if trait == "ballot_size":
        return f"{value} 个" if value < MAX_BALLOT_SIZE else f"≥{MAX_BALLOT_SIZE} 个"
    if trait == "hour":
        return f"{value * HOUR_BAND_HOURS:02d}–{(value + 1) * HOUR_BAND_HOURS:02d} 时"
    return labels[value]


def trait_values(trait: str, labels: list[str]) -> str:
    """A trait's values: all of them, or the first SHOWN_VALUES and how many in all."""
    shown = "、".join(labels[:SHOWN_VALUES])
    if len(labels) > SHOWN_VALUES:
        shown += f" 等 {len(labels)} 种"
    return f"{TRAIT_LABELS[trait]} {shown}"


def trait_description(
    described: list[tuple[str, list[str]]], observed: int, expected: float
) -> str:
    """Why a shared-traits slice was picked: its traits' values, observed vs expected."""
    traits = "，且".join(trait_values(trait, labels) for trait, labels in described)
    return (
        f"共有特征：{traits} —— 含本案例的选票中有 {observed} 张，"
        f"按其余选票的比例应有 {expected:.1f} 张（{_times_expected(observed, expected)}）"
    )


def trait_row(
    described: list[tuple[str, list[str]]], observed: int, expected: float
) -> tuple[str, str, int, float]:
    """A row of the page's shared-traits table: trait, values, observed, expected."""
    names = "＋".join(TRAIT_LABELS[trait] for trait, _ in described)
    values = "；".join("、".join(labels) for _, labels in described)
    return names, values, observed, round(expected, 1)


def _times_expected(observed: int, expected: float) -> str:
    return f"{observed / expected:.0f} 倍" if expected >= 0.1 else "几乎不该出现"


# --- Verdicts -----------------------------------------------------------------------


def co_selected_reason(hosts: list[int]) -> str:
    return (
        f"陪投：本案例出现在被标记案例 {_cases(hosts)} 的可疑选票里，"
        "去掉那些选票后不再可疑，像是刷票者用来掩护的热门案例，不单独标记"
    )


def conclusion(positive: int, strong: int) -> str:
    """How many families had evidence, against the rule that flags or watches."""
    return (
        f"结论：{positive} 个证据族有信号，其中 {strong} 个为强"
        f"（≥ {FLAG_MIN_FAMILIES} 个且含 ≥ {FLAG_MIN_STRONG} 个强即标记，"
        f"≥ {WATCH_MIN_FAMILIES} 个为关注）"
    )


def riders_reason(riders: list[int]) -> str:
    return f"可疑选票里同时选了（陪投）：{_cases(riders)}"


def _cases(numbers: list[int]) -> str:
    return "、".join(f"{n:03d}" for n in numbers)


# --- Measures ---------------------------------------------------------------------------


def metric(m: Measure) -> str:
    """What the measure's value is, as the page's family table names it."""
    return _WORDS[m.key][0].format(**_CONSTANTS)


def reason(family: str, m: Measure) -> str:
    """One line of a report's reasons: the family, whether strong, and the figures."""
    return f"{FAMILY_LABELS[family]}{'（强）' if m.score == 2 else ''}：{says(m)}"


def says(m: Measure) -> str:
    """The measure's figures in words, whatever its score."""
    baseline = 0 if m.baseline is None else m.baseline
    return _WORDS[m.key][1].format(
        value=m.value, baseline=baseline, strong=m.strong, weak=m.weak, **m.figures, **_CONSTANTS
    )


# Each measure's metric and reason, by key: str.format templates over the measure's
# value, baseline, strong and weak thresholds, its figures, and these constants.
_CONSTANTS = {
    "top": TOP_SUBNETS,
    "sets": CO_CHOSEN_TOP,
    "agents": TOP_USER_AGENTS,
    "dwell": FAST_DWELL_SECONDS,
    "seconds": SECONDS_FOLLOW_SECONDS,
    "minutes": FRESH_FOLLOW_SECONDS // 60,
    "group": LOCKSTEP_MIN_GROUP,
    "unfollow_hours": QUICK_UNFOLLOW_SECONDS // 3600,
}
_WORDS = {
    "regular_gaps": (
        "IQR(log10 间隔秒数)",
        "间隔过于规律：IQR(log10 间隔秒数)={value:.2f}，全体 {baseline:.2f}"
        "（≤ {weak} 可疑，≤ {strong} 强）",
    ),
    "night_votes": (
        "00–06 时投票占比",
        "深夜投票多：00–06 时占 {value:.0%}，其余选票 {baseline:.0%}"
        "（≥ {weak:.0%} 可疑，≥ {strong:.0%} 强）",
    ),
    "flat_day": (
        "24 小时分布的变异系数",
        "昼夜不分：24 小时分布的变异系数 {value:.2f}，全体 {baseline:.2f}"
        "（≤ {weak:.2f} 可疑，最多记 1 分）",
    ),
    "few_subnets": (
        "每位投票人的 /24 网段数",
        "网段太少：{voters} 位投票人来自 {subnets:.0f} 个 /24（每人 {value:.2f}），"
        "同样人数的随机样本每人 {baseline:.2f}（≤ {strong:.2f} 强）",
    ),
    "top_subnets": (
        "前 {top} 个 /24 的投票人占比",
        "集中在少数网段：前 {top} 个 /24 占投票人的 {value:.0%}，随机样本 {baseline:.0%}"
        "（≥ {strong:.0%} 强）",
    ),
    "own_subnets": (
        "来自专用 /24 的投票人占比",
        "专用网段：{value:.0%} 的投票人所在的 /24 几乎只投出这组选票，随机样本 {baseline:.0%}"
        "（≥ {strong:.0%} 强）",
    ),
    "few_user_agents": (
        "浏览器标识种数 ÷ 随机样本",
        "浏览器标识单一：{voters} 位投票人只有 {user_agents:.0f} 种，"
        "同样人数的随机样本 {sample_user_agents:.0f} 种（比值 {value:.2f}，≤ {strong} 强）",
    ),
    "top_user_agents": (
        "前 {agents} 种浏览器标识的投票人占比",
        "集中在少数机型：前 {agents} 种浏览器标识占投票人的 {value:.0%}，随机样本 {baseline:.0%}"
        "（≥ {weak:.0%} 可疑，≥ {strong:.0%} 强）",
    ),
    "shared_devices": (
        "每个设备的账号数",
        "一机多号：{voters} 个账号只用了 {devices} 个设备（每设备 {value:.1f} 个），"
        "随机样本 {baseline:.2f}（≥ {strong:.1f} 强）",
    ),
    "non_wechat": (
        "非微信浏览器占比",
        "非微信浏览器占 {value:.0%}，其余选票 {baseline:.0%}（≥ {strong:.0%} 强）",
    ),
    "fast_dwell": (
        "页面停留不足 {dwell:g} 秒占比",
        "来不及看就提交：页面停留不足 {dwell:g} 秒的占 {value:.0%}，其余选票 {baseline:.0%}"
        "（≥ {strong:.0%} 强）",
    ),
    "quick_reading": (
        "页面停留中位数 ÷ 全体中位数",
        "看得太快：页面停留中位数 {median:.1f} 秒，全体 {poll_median:.1f} 秒（比值 {value:.2f}，"
        "≤ {weak} 可疑，≤ {strong} 强）",
    ),
    "seconds_follow": (
        "关注后 {seconds} 秒内投票占比",
        "关注几秒就投票：{value:.0%} 在关注后 {seconds} 秒内投出，其余选票 {baseline:.0%}"
        "（≥ {strong:.0%} 强）",
    ),
    "fresh_follow": (
        "关注后 {minutes} 分钟内投票占比",
        "新关注者多：{value:.0%} 在关注后 {minutes} 分钟内投票，其余选票 {baseline:.0%}"
        "（≥ {weak:.0%} 可疑；关注是投票的前提，最多记 1 分）",
    ),
    "quick_unfollow": (
        "投票后 {unfollow_hours} 小时内取消关注占比",
        "投完就取消关注：{value:.0%} 的选票在投出后 {unfollow_hours} 小时内取消了关注，"
        "其余选票 {baseline:.1%}（≥ {weak:.0%} 可疑，≥ {strong:.0%} 强）",
    ),
    "single_choice": (
        "单选占比",
        "只选一个案例：单选占 {value:.0%}，其余选票 {baseline:.0%}"
        "（≥ {weak:.0%} 可疑，≥ {strong:.0%} 强）",
    ),
    "fixed_size": (
        "同一选择数（≥2 个）的选票占比",
        "选择数整齐：{value:.0%} 的选票都正好选了 {cases:.0f} 个案例，其余选票 {baseline:.0%}"
        "（≥ {weak:.0%} 可疑，≥ {strong:.0%} 强）",
    ),
    "co_chosen": (
        "多选票中最常见的 {sets} 种组合占比",
        "搭配雷同：多选的选票中 {value:.0%} 是最常见的 {sets} 种案例组合，"
        "本案例其余选票 {baseline:.0%}（≥ {weak:.0%} 可疑，≥ {strong:.0%} 强）",
    ),
    "lockstep": (
        "同一小时同一组合的选票占比",
        "整齐划一：{value:.0%} 的选票在同一小时内选了完全相同的几个案例（每组 ≥ {group} 张），"
        "其余选票 {baseline:.0%}（≥ {strong:.0%} 强）",
    ),
}
