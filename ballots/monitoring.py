"""The committee's "刷票监测" page: cases by suspicion, each with its evidence.

The page shows a stored detector run (ballots.snapshots): the newest one, re-run
in the request only while the batch is small. Voiding a suspect slice names the
run it was shown from, and records that run's report as the decision's evidence.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from ballots import access, detection, moderation, snapshots
from ballots.charts import bar_chart
from ballots.forms_admin import VoidForm
from ballots.models import Ballot, DetectionRun
from cases.models import Batch


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
    """Reached through the committee's batch admin, which checks `access.may_see_evidence`."""
    batch = get_object_or_404(Batch, pk=batch_id)
    if request.method == "POST":
        run_id = request.POST.get("run", "")
        run = get_object_or_404(
            DetectionRun, pk=int(run_id) if run_id.isdigit() else 0, batch=batch
        )
        return _void_slice(request, batch, run, _chosen_report(request, snapshots.run_reports(run)))
    page = snapshots.for_page(batch)
    reports = page.reports
    chosen = _chosen_report(request, reports)
    titles = dict(batch.cases.values_list("number", "title"))
    context = {
        **admin.site.each_context(request),
        "title": f"刷票监测：{batch}",
        "batch": batch,
        "reports": reports,
        "run": page.run,
        "since": page.since,
        "live_limit": settings.CASEVOTE_MONITORING_LIVE_LIMIT,
        "rows": [(report, titles.get(report.case, "")) for report in reports],
        "chosen": chosen,
        "detector_version": detection.DETECTOR_VERSION,
        "can_void": access.may_void(request.user),
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


def _void_slice(request, batch: Batch, run: DetectionRun, report):
    if not access.may_void(request.user):
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
        "detector_version": run.detector_version,
        "detection_run": run.pk,
        "detection_run_started_at": run.started_at.isoformat(),
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
