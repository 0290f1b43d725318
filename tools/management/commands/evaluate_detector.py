"""manage.py evaluate_detector: the brushing detector's scorecard over synthetic polls.

    manage.py evaluate_detector                          # judged seeds, every attack × trap
    manage.py evaluate_detector --seeds tuning --jobs 2 --output /tmp/scorecard.json
    manage.py evaluate_detector --attacks script,farm --traps village --seeds 1,2 --check

Each cell is one attack family and one honest trap on a small poll of the batch's
cases, simulated in memory (nothing is written to the database) and read by the
detector (`tools.scorecard`). The table gives per attack its recall and weakest
margin over the flag bar, per trap its false alarms and strongest margin, the
decoys and the other cases flagged; the JSON (default bench/scorecard.json) holds
the same and every cell. --seeds judged (the default) are seeds never looked at
while tuning the thresholds; --seeds tuning are those the thresholds may be tuned
on. --check fails when the target is not met. Timings go to stderr.
"""

import json
import os
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ballots.management.commands.detect_brushing import pad, width_of
from cases.models import Batch, format_number
from tools.management.commands.simulate_votes import bounded_int
from tools.scorecard import (
    DEFAULT_BALLOTS,
    END,
    JUDGED_SEEDS,
    MIN_BALLOTS,
    OTHER_SEEDS,
    SEED_SETS,
    TUNING_SEEDS,
    Margin,
    Scorecard,
    default_jobs,
    grouped,
    matrix,
    place_text,
    run_cells,
    summarise,
)
from tools.simulation import ALL_ATTACKS, ALL_TRAPS, SimulationError, offer_for

MAX_BALLOTS = 200_000  # per cell; the full matrix runs hundreds of cells
MAX_JOBS = 64
MAX_SEEDS = 100
DEFAULT_OUTPUT = Path("bench") / "scorecard.json"
SHOWN_ALARMS = 5  # background alarms listed; the JSON has them all
SEED_KIND_WORDS = {
    "judged": "评判种子：调阈值时从未看过",
    "tuning": "调参种子：阈值可以照着它们调，成绩偏乐观",
    OTHER_SEEDS: "自选种子：不全是评判种子，也不全是调参种子",
}


def parse_seeds(value: str) -> list[int]:
    """`judged`, `tuning` or a comma-separated list of seeds."""
    name = value.strip().lower()
    if name in SEED_SETS:
        return list(SEED_SETS[name])
    seeds = []
    for part in value.split(","):
        if not part.strip():
            continue
        try:
            seed = int(part)
        except ValueError:
            raise CommandError(
                f"--seeds 里的 {part.strip()!r} 不是整数。可用 judged、tuning 或逗号分隔的种子，如 1,2,3。"
            ) from None
        if seed < 0:
            raise CommandError(f"--seeds 里的种子不能是负数，收到 {seed}。")
        seeds.append(seed)
    seeds = list(dict.fromkeys(seeds))
    if not seeds:
        raise CommandError("--seeds 为空。可用 judged、tuning 或逗号分隔的种子，如 1,2,3。")
    if len(seeds) > MAX_SEEDS:
        raise CommandError(f"--seeds 最多 {MAX_SEEDS} 个，收到 {len(seeds)} 个。")
    return seeds


def parse_names(value: str, option: str, known: tuple[str, ...]) -> list[str]:
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    if not names:
        raise CommandError(f"{option} 为空。可选：{','.join(known)}。")
    for name in names:
        if name not in known:
            raise CommandError(f"{option} 里有未知的名称 {name!r}。可选：{','.join(known)}。")
    return list(dict.fromkeys(names))


def output_path(value: str | None) -> Path:
    """Where the JSON goes; its folder must exist (checked before hours of work)."""
    path = Path(value) if value else Path(settings.BASE_DIR) / DEFAULT_OUTPUT
    if path.is_dir():
        raise CommandError(
            f"--output {path} 是一个文件夹，请给出文件名，如 {path / 'scorecard.json'}。"
        )
    if not path.parent.is_dir():
        raise CommandError(f"--output 的文件夹 {path.parent} 不存在。")
    return path


def margin_text(margin: Margin | None, bar: Margin) -> str:
    """A margin against the flag bar: "4 类证据（2 类强）／门槛 3（1 强）"."""
    if margin is None:
        return "—"
    return (
        f"{margin.families} 类证据（{margin.strong} 类强）／门槛 {bar.families}（{bar.strong} 强）"
    )


def where_text(found: list, runs: int, by: str) -> str:
    """Where something happened, seeds grouped by attack or trap; "全部" when everywhere."""
    if not found:
        return "无"
    if len(found) == runs:
        return f"全部 {runs} 次"
    return grouped(found, by)


def write_json(path: Path, data: dict) -> None:
    """All or nothing: a temporary file in the same folder, then renamed over the target."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o666 & ~umask)  # an ordinary file, not mkstemp's 0600
            json.dump(data, file, ensure_ascii=False, indent=1)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class Command(BaseCommand):
    help = (
        "Score the brushing detector: every attack family × every honest trap × seeds, "
        "on in-memory simulated polls; print the table and write it as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", default="2", help="batch whose cases are offered (2)")
        parser.add_argument(
            "--seeds",
            default="judged",
            help=(
                f"judged ({','.join(map(str, JUDGED_SEEDS))}, never used to tune; the default), "
                f"tuning ({','.join(map(str, TUNING_SEEDS))}) or a comma-separated list"
            ),
        )
        parser.add_argument(
            "--attacks", default=",".join(ALL_ATTACKS), help="comma-separated (default: all)"
        )
        parser.add_argument(
            "--traps", default=",".join(ALL_TRAPS), help="comma-separated (default: all)"
        )
        parser.add_argument(
            "--ballots",
            default=str(DEFAULT_BALLOTS),
            help=f"honest ballots per cell (default {DEFAULT_BALLOTS}, at least {MIN_BALLOTS})",
        )
        parser.add_argument(
            "--jobs", default=None, help="worker processes (default: one per CPU core)"
        )
        parser.add_argument("--output", help=f"JSON file (default: {DEFAULT_OUTPUT})")
        parser.add_argument(
            "--check", action="store_true", help="fail (exit 1) when the target is not met"
        )

    def handle(self, *args, batch, seeds, attacks, traps, ballots, jobs, output, check, **options):
        number = bounded_int(batch, "--batch", 1, 32767)
        seed_list = parse_seeds(seeds)
        attack_names = parse_names(attacks, "--attacks", ALL_ATTACKS)
        trap_names = parse_names(traps, "--traps", ALL_TRAPS)
        ballots = self.parse_ballots(ballots)
        jobs = default_jobs() if jobs is None else bounded_int(jobs, "--jobs", 1, MAX_JOBS)
        path = output_path(output)

        try:
            target = Batch.objects.get(number=number)
        except Batch.DoesNotExist:
            raise CommandError(f"没有第{number}批。请先用 load_cases 导入该批案例。") from None
        offer = offer_for(target, END)

        started = time.perf_counter()
        cells = matrix(attack_names, trap_names, seed_list)
        try:
            results = run_cells(offer, cells, ballots=ballots, jobs=jobs)
        except SimulationError as error:  # e.g. too few votable cases for the roles
            raise CommandError(str(error)) from None
        elapsed = time.perf_counter() - started
        card = summarise(results, seeds=seed_list, ballots=ballots, batch=number)

        self.write_table(card, len(attack_names), len(trap_names))
        write_json(path, card.to_dict(generated_at=timezone.localtime(timezone.now())))
        self.stdout.write(f"已写入 {path}。")
        simulate = sum(r.simulate_seconds for r in results)
        detect = sum(r.detect_seconds for r in results)
        self.stderr.write(
            f"用时 {elapsed:.1f} 秒，{len(cells)} 格，{min(jobs, len(cells))} 个进程；"
            f"每格平均模拟 {simulate / len(cells):.2f} 秒、检测 {detect / len(cells):.2f} 秒。"
        )
        if check and not card.target_met:
            raise CommandError(f"未达标（{len(card.failures)} 项）：" + "；".join(card.failures))

    @staticmethod
    def parse_ballots(value: str) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise CommandError(f"--ballots {value!r} 不是整数。") from None
        if number < MIN_BALLOTS:
            raise CommandError(
                f"--ballots 至少 {MIN_BALLOTS}（收到 {number}）：正常选票太少，检测的基线没有意义。"
            )
        if number > MAX_BALLOTS:
            raise CommandError(f"--ballots 最多 {MAX_BALLOTS}（收到 {number}）。")
        return number

    def write_table(self, card: Scorecard, attacks: int, traps: int) -> None:
        bar = card.flag_bar
        seeds = "、".join(map(str, card.seeds))
        self.stdout.write(
            f"第{card.batch}批刷票监测评分卡（监测程序 {card.detector_version}）："
            f"{attacks} 种攻击 × {traps} 种陷阱 × {len(card.seeds)} 个种子 = {len(card.cells)} 次模拟，"
            f"每次约 {card.ballots} 张正常选票、{card.days} 天，只在内存中模拟。"
        )
        self.stdout.write(f"种子：{seeds}（{SEED_KIND_WORDS[card.seeds_kind]}）。")
        self.stdout.write(
            f"标记门槛：一个切片有 ≥ {bar.families} 类证据，其中 ≥ {bar.strong} 类强。"
        )

        # The first column fits the longest "name label" of either table.
        names = {s.attack: s.label for s in card.attacks} | {s.trap: s.label for s in card.traps}
        key = max(map(len, names)) + 1
        first = max(width_of(f"{name:<{key}}{label}") for name, label in names.items()) + 1
        columns = ((first, False), (9, True), (6, True), (8, True), (36, False))

        self.stdout.write("")
        self.stdout.write(
            self.row(("攻击类型", "命中/次数", "召回率", "切片覆盖", "最弱余量"), columns) + " 漏检"
        )
        for summary in card.attacks:
            # Of its ballots, the share its case's deciding slice holds when caught: a
            # catch on a slice holding 5% of them is luck, not detection.
            share = "—" if summary.slice_share is None else f"{summary.slice_share:.0%}"
            cells = (
                f"{summary.attack:<{key}}{summary.label}",
                f"{summary.caught}/{summary.runs}",
                f"{summary.recall:.0%}",
                share,
                margin_text(summary.weakest, bar),
            )
            misses = where_text(summary.missed, summary.runs, "trap")
            if summary.expected_miss and summary.missed:
                misses += "（预期漏检，不计入达标）"
            self.stdout.write(self.row(cells, columns) + f" {misses}")

        self.stdout.write("")
        columns = ((first, False), (9, True), (6, True), (36, False))
        self.stdout.write(self.row(("陷阱", "误报/次数", "关注", "最强余量"), columns) + " 误报")
        for summary in card.traps:
            cells = (
                f"{summary.trap:<{key}}{summary.label}",
                f"{summary.flagged}/{summary.runs}",
                str(summary.watch),
                margin_text(summary.strongest, bar),
            )
            alarms = where_text(summary.flagged_at, summary.runs, "attack")
            self.stdout.write(self.row(cells, columns) + f" {alarms}")

        self.stdout.write("")
        decoys = [s for s in card.attacks if s.decoy_runs]
        if decoys:
            parts = [
                f"{s.attack} {s.decoys_co_selected}/{s.decoy_runs} 次全部判为陪投，"
                f"{s.decoys_flagged} 次有陪投被标记"
                for s in decoys
            ]
            self.stdout.write("陪投：" + "；".join(parts) + "。")
        else:
            self.stdout.write("陪投：这些攻击不带陪投。")
        line = f"背景误报（攻击目标、陪投和陷阱之外被标记的案例）：{card.background_alarms} 次"
        if card.background:
            line += "：" + "；".join(
                f"{place_text(b.place)} → " + "、".join(format_number(n) for n in b.cases)
                for b in card.background[:SHOWN_ALARMS]
            )
            if len(card.background) > SHOWN_ALARMS:
                line += f" 等 {len(card.background)} 次模拟"
        self.stdout.write(line + "。")
        expected = [s.attack for s in card.attacks if s.expected_miss]
        if expected:
            self.stdout.write(
                f"预期漏检：{'、'.join(expected)}（像忠实支持者的真人慢速农场，留给组委会判断），"
                "照常测量，不计入达标。"
            )
        if card.target_met:
            self.stdout.write("结论：达标。")
        else:
            self.stdout.write("结论：未达标。")
            for failure in card.failures:
                self.stdout.write(f"  - {failure}")

    @staticmethod
    def row(cells, columns) -> str:
        return " ".join(
            pad(cell, width, right=right)
            for cell, (width, right) in zip(cells, columns, strict=True)
        )
