"""The public report form and the status page. Never cached: both carry CSRF tokens."""

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from ballots import network
from reports.forms import LookupForm, ReportForm, local_today
from reports.services import (
    ReportContent,
    ReportRefused,
    ReportRequest,
    check_lookup_budget,
    file_report,
    find_report,
    make_form_token,
)

FORM_FIELDS_ALLOWANCE = 256 * 1024  # the text fields and multipart framing around the files


def request_limit() -> int:
    return settings.CASEVOTE_REPORT_MAX_FILES * settings.CASEVOTE_REPORT_MAX_FILE_BYTES + (
        FORM_FIELDS_ALLOWANCE
    )


def declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@csrf_exempt  # only so the size is checked before anything reads the body; _report checks CSRF
@require_http_methods(["GET", "HEAD", "POST"])
@cache_control(private=True, no_store=True)
def report(request):
    if request.method == "POST" and declared_length(request) > request_limit():
        limit_mb = settings.CASEVOTE_REPORT_MAX_FILE_BYTES // (1024 * 1024)
        return render(
            request,
            "reports/too_large.html",
            {"limit_mb": limit_mb, "max_files": settings.CASEVOTE_REPORT_MAX_FILES},
            status=413,
        )
    return _report(request)


@csrf_protect
def _report(request):
    now = timezone.now()
    today = local_today(now)
    status = 200
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES, today=today)
        if not form.is_valid():
            status = 400
        else:
            data = form.cleaned_data
            try:
                filed = file_report(
                    ReportContent(
                        kind=data["kind"],
                        case=data["case"],
                        description=data["description"].strip(),
                        happened_on=data["happened_on"],
                        contact_name=data["contact_name"].strip(),
                        contact_details=data["contact_details"].strip(),
                        screenshots=data["screenshots"],
                    ),
                    ReportRequest.from_request(request, data["token"], data["website"]),
                    now,
                )
            except ReportRefused as refusal:
                form.add_error(None, refusal.message)
                status = refusal.status_code
            else:
                return render(request, "reports/filed.html", {"report": filed})
    else:
        form = ReportForm(initial=initial_from_query(request), today=today)
    form.renew_token(make_form_token(now))
    return render(request, "reports/report.html", {"form": form}, status=status)


def initial_from_query(request) -> dict:
    """A case page links here with ?case=031: the form starts as a brushing lead about it."""
    case = request.GET.get("case", "")
    if case.isascii() and case.isdigit() and len(case) <= 3:
        return {"kind": "brushing", "case": int(case)}
    return {}


@require_http_methods(["GET", "HEAD", "POST"])
@csrf_protect
@cache_control(private=True, no_store=True)
def status(request):
    """A report's status and dates by its code: never the committee's notes."""
    form = LookupForm(request.POST if request.method == "POST" else None)
    found, code = None, 200
    if form.is_bound and form.is_valid():
        try:
            check_lookup_budget(network.client_address(request.META), timezone.now())
        except ReportRefused as refusal:
            form.add_error(None, refusal.message)
            code = refusal.status_code
        else:
            found = find_report(form.cleaned_data["code"])
            if found is None:
                form.add_error("code", "没有找到这个查询码，请核对后重新输入。")
                code = 404
    elif form.is_bound:
        code = 400
    return render(request, "reports/status.html", {"form": form, "found": found}, status=code)
