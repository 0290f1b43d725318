"""The committee's "刷票监测" page: cases by suspicion, each with its evidence.

The detector's reports are computed from the batch's valid ballots and cached
until a ballot is cast or a decision is taken (the cache key names the newest
ballot and decision), so the page stays fast on a large poll. Voiding a suspect
slice from here records the report as the decision's evidence snapshot.
"""

from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from ballots import detection, evidence, moderation
from ballots.charts import bar_chart
from ballots.forms_admin import VoidForm
from ballots.models import Ballot, Decision
from cases.models import Batch

REPORT_CACHE_SECONDS = 600


def _cache_key(batch: Batch) -> str:
    newest_ballot = Ballot.objects.filter(batch=batch).aggregate(m=Max("pk"))["m"] or 0
    newest_decision = Decision.objects.filter(batch=batch).aggregate(m=Max("pk"))["m"] or 0
    return (
        f"casevote:detect:{detection.DETECTOR_VERSION}:{batch.pk}:{newest_ballot}:{newest_decision}"
    )


def batch_reports(batch: Batch) -> list[detection.CaseReport]:
    key = _cache_key(batch)
    reports = cache.get(key)
    if reports is None:
        reports = evidence.batch_reports(batch)
        cache.set(key, reports, REPORT_CACHE_SECONDS)
    return reports


def hourly_chart(report: detection.CaseReport):
    values = [
        (
            timezone.localtime(hour.start).strftime("%m-%d %H:00"),
            hour.observed,
            hour.expected,
            hour.suspect,
        )
        for hour in report.hourly
    ]
    return bar_chart(values, title="每小时得票：实际（柱）与预期（横线）")


def gap_chart(report: detection.CaseReport):
    return bar_chart(
        [(label, count, None, False) for label, count in report.gap_histogram],
        title="相邻选票间隔分布",
        height=120,
    )


def follow_lag_chart(report: detection.CaseReport):
    return bar_chart(
        [(label, count, None, False) for label, count in report.follow_lag_histogram],
        title="关注到投票的时间间隔",
        height=120,
    )


def monitoring_view(request, batch_id: int):
    """Reached through BatchAdmin, which checks the `view_evidence` permission."""
    batch = get_object_or_404(Batch, pk=batch_id)
    reports = batch_reports(batch)
    chosen = _chosen_report(request, reports)
    if request.method == "POST":
        return _void_slice(request, batch, chosen)
    titles = dict(batch.cases.values_list("number", "title"))
    context = {
        **admin.site.each_context(request),
        "title": f"刷票监测：{batch}",
        "batch": batch,
        "reports": reports,
        "rows": [(report, titles.get(report.case, "")) for report in reports],
        "chosen": chosen,
        "detector_version": detection.DETECTOR_VERSION,
        "can_void": request.user.has_perm("ballots.void_ballots"),
        "opts": Batch._meta,
    }
    if chosen is not None:
        context |= {
            "chosen_title": titles.get(chosen.case, ""),
            "families": [
                (family, detection.FAMILY_LABELS.get(family.name, family.name))
                for family in chosen.families
            ],
            "hourly": hourly_chart(chosen),
            "gaps": gap_chart(chosen),
            "follow_lag": follow_lag_chart(chosen),
            "void_form": VoidForm(),
        }
    return TemplateResponse(request, "admin/ballots/monitoring.html", context)


def _chosen_report(request, reports):
    wanted = request.GET.get("case") or request.POST.get("case")
    if wanted is None:
        return reports[0] if reports else None
    try:
        number = int(wanted)
    except ValueError:
        return None
    return next((report for report in reports if report.case == number), None)


def _void_slice(request, batch: Batch, report):
    if not request.user.has_perm("ballots.void_ballots"):
        raise PermissionDenied
    back = reverse("admin:cases_batch_monitoring", args=[batch.pk])
    form = VoidForm(request.POST)
    try:
        index = int(request.POST.get("slice", ""))
        chosen = report.slices[index]
    except (AttributeError, ValueError, IndexError):
        messages.error(request, "请选择要作废的可疑选票范围。")
        return redirect(back)
    if not form.is_valid():
        messages.error(request, "请写明作废理由（至少 4 个字）。")
        return redirect(f"{back}?case={report.case:03d}")
    snapshot = {
        "detector_version": detection.DETECTOR_VERSION,
        "report": detection.report_to_dict(report),
    }
    try:
        outcome = moderation.void_ballots(
            Ballot.objects.filter(batch=batch, pk__in=chosen.ballot_ids),
            user=request.user,
            reason=form.cleaned_data["reason"],
            public_reason=form.cleaned_data["public_reason"],
            scope={
                "kind": "suspect_slice",
                "case": report.case,
                "slice": chosen.kind,
                "description": chosen.description,
            },
            evidence=snapshot,
        )
    except moderation.DecisionRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"已作废 {outcome.changed} 张选票，证据快照已记录。")
    return redirect(f"{back}?case={report.case:03d}")
