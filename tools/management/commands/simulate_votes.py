"""manage.py simulate_votes: write a synthetic poll to try the brushing detector on.

    manage.py simulate_votes --batch 2 --seed 7
    manage.py simulate_votes --batch 2 --seed 7 --attacks script,farm --days 5 \\
        --ballots 100000 --end "2026-11-20 00:00"
    manage.py simulate_votes --batch 2 --seed 7 --attacks residential --traps workplace,campus

Times are back-dated in Asia/Shanghai: the poll ends at --end (default: now) and
starts --days earlier. --ballots is the honest background; traps and attacks come on
top. Simulated followers use backend "simulated"; nothing is ever deleted, so run it
on a scratch database or a batch you can throw away.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError
from django.utils import timezone

from ballots.management.commands.set_voting import parse_local_datetime
from ballots.services import local_time_display
from cases.models import Batch, format_number
from tools.simulation import (
    ALL_ATTACKS,
    ALL_TRAPS,
    ATTACKS,
    DEFAULT_BALLOTS,
    DEFAULT_DAYS,
    HONEST,
    TRAPS,
    SimulationError,
    has_real_ballots,
    simulate,
)

MAX_DAYS = 60
MAX_BALLOTS = 2_000_000
NONE = "none"
KIND_LABELS = {
    HONEST: "正常投票",
    "village": "村庄 Wi-Fi（陷阱，不应标记）",
    "viral": "自然走红（陷阱，不应标记）",
    "workplace": "单位早高峰（陷阱，不应标记）",
    "loyal": "忠实老投票者（陷阱，不应标记）",
    "province": "一省热门（陷阱，不应标记）",
    "campus": "大学校园（陷阱，不应标记）",
    "script": "脚本",
    "proxy": "轮换代理",
    "farm": "夜间人工刷票",
    "drip": "慢速滴灌",
    "churn": "关注、投票、取关（付费投票）",
    "residential": "住宅代理真人投票（付费投票）",
    "small": "小规模付费刷票",
    "stealth": "长期潜伏的真人（预计漏检）",
}


def bounded_int(value: str, option: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise CommandError(f"{option} {value!r} 不是整数。") from None
    if not low <= number <= high:
        raise CommandError(f"{option} 须在 {low} 到 {high} 之间，收到 {number}。")
    return number


def parse_names(value: str, option: str, what: str, known: tuple[str, ...]) -> list[str]:
    """A comma-separated list of known names, or "none"."""
    choices = f"可选：{','.join(known)}，或 {NONE}。"
    if value.strip().lower() == NONE:
        return []
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    for name in names:
        if name not in known:
            raise CommandError(f"未知的{what}类型 {name!r}。{choices}")
    if not names:
        raise CommandError(f"{option} 为空。{choices}")
    return list(dict.fromkeys(names))


class Command(BaseCommand):
    help = "Write a synthetic, back-dated poll (honest traffic, traps, attacks) for a batch."

    def add_arguments(self, parser):
        parser.add_argument("--batch", required=True, help="batch number, e.g. 2")
        parser.add_argument("--seed", required=True, help="random seed (same seed, same poll)")
        parser.add_argument(
            "--attacks",
            default=",".join(ATTACKS),
            help=(
                f"comma-separated, from {','.join(ALL_ATTACKS)} "
                f"(default: {','.join(ATTACKS)}), or {NONE}"
            ),
        )
        parser.add_argument(
            "--traps",
            default=",".join(TRAPS),
            help=(
                f"comma-separated, from {','.join(ALL_TRAPS)} "
                f"(default: {','.join(TRAPS)}), or {NONE}"
            ),
        )
        parser.add_argument("--days", default=str(DEFAULT_DAYS), help="days of voting")
        parser.add_argument(
            "--ballots", default=str(DEFAULT_BALLOTS), help="about how many honest ballots"
        )
        parser.add_argument("--end", help='end of the poll, Beijing time, e.g. "2026-11-20 00:00"')
        parser.add_argument(
            "--force", action="store_true", help="add to a batch that already has real ballots"
        )

    def handle(self, *args, batch, seed, attacks, traps, days, ballots, end, force, **options):
        number = bounded_int(batch, "--batch", 1, 32767)
        seed = bounded_int(seed, "--seed", 0, 2**63 - 1)
        attack_names = parse_names(attacks, "--attacks", "攻击", ALL_ATTACKS)
        trap_names = parse_names(traps, "--traps", "陷阱", ALL_TRAPS)
        days = bounded_int(days, "--days", 1, MAX_DAYS)
        ballots = bounded_int(ballots, "--ballots", 1, MAX_BALLOTS)
        now = timezone.now()
        end_at = parse_local_datetime(end, "--end") if end else now.replace(second=0, microsecond=0)
        if end_at > now:
            raise CommandError("--end 不能晚于现在：模拟的是已经发生的投票。")

        try:
            target = Batch.objects.get(number=number)
        except Batch.DoesNotExist:
            raise CommandError(f"没有第{number}批。请先用 load_cases 导入该批案例。") from None
        if not target.cases.exists():
            raise CommandError(f"第{number}批还没有案例。请先用 load_cases 导入。")
        if has_real_ballots(target) and not force:
            raise CommandError(
                f"第{number}批已有真实选票。模拟数据不会删除，也会混进监测结果；"
                "确实要这样做请加 --force。"
            )

        try:
            scenario = simulate(
                target,
                seed=seed,
                attacks=attack_names,
                traps=trap_names,
                days=days,
                ballots=ballots,
                end=end_at,
            )
        except SimulationError as error:
            raise CommandError(str(error)) from None
        except IntegrityError as error:
            raise CommandError(
                f"写入失败，什么也没有保存（{error}）。换一个 --seed 再试。"
            ) from None

        self.stdout.write(
            f"第{target.number}批模拟投票（种子 {seed}）：{local_time_display(scenario.start)} 至 "
            f"{local_time_display(scenario.end)}（北京时间），共 {scenario.total} 张选票，"
            f"{scenario.followers} 个模拟关注者。"
        )
        cases = {**scenario.trap_cases, **scenario.targets}
        for kind, label in KIND_LABELS.items():
            if kind not in scenario.counts:
                continue
            line = f"  {kind:<11} {scenario.counts[kind]:>8}  {label}"
            if kind in cases:
                line += f" → 案例 {format_number(cases[kind])}"
            if decoys := scenario.decoys_of.get(kind):
                line += f"（陪投 {'、'.join(format_number(n) for n in decoys)}）"
            self.stdout.write(line)
        self.stdout.write(f"检测：manage.py detect_brushing --batch {target.number}")
        window_start, window_end = target.voting_opens_at, target.voting_closes_at
        if window_start and (scenario.start < window_start or scenario.end > window_end):
            self.stderr.write(
                f"注意：模拟的时间不全在本批投票时间（{local_time_display(window_start)} 至 "
                f"{local_time_display(window_end)}）之内。"
            )
