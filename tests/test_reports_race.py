"""Races: reports filed at once from one network keep to the hourly limit, and one form
sent twice at once files one report. PostgreSQL only (see tests/test_voting_race.py)."""

from datetime import timedelta
from ipaddress import ip_address

import pytest
from django.db import connection
from django.utils import timezone

from reports.models import Report
from reports.services import (
    ReportContent,
    ReportRefused,
    ReportRequest,
    file_report,
    make_form_token,
)
from tests.test_voting_race import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: SQLite serialises writers, so there is no race to test",
    ),
]

THREADS = 8
CONTENT = ReportContent(
    kind="impersonation",
    case=None,
    description="有人冒用组委会名义收费代投，并发测试。",
    happened_on=timezone.localdate(),
)


def test_simultaneous_reports_from_one_address_keep_to_the_limit(settings):
    settings.CASEVOTE_REPORTS_PER_ADDRESS_HOURLY = 3
    served = timezone.now() - timedelta(seconds=30)
    tokens = [make_form_token(served) for _ in range(THREADS)]

    def submit(index: int):
        meta = ReportRequest(ip_address("198.51.100.7"), tokens[index])
        return file_report(CONTENT, meta, timezone.now())

    outcomes = race(submit, THREADS)
    assert Report.objects.count() == 3
    assert sum(isinstance(o, ReportRefused) and o.status_code == 429 for o in outcomes) == 5


def test_one_form_sent_twice_at_once_files_one_report():
    token = make_form_token(timezone.now() - timedelta(seconds=30))

    def submit(index: int):
        return file_report(
            CONTENT, ReportRequest(ip_address(f"203.0.113.{index + 1}"), token), timezone.now()
        )

    outcomes = race(submit, THREADS)
    assert Report.objects.count() == 1
    assert sum(isinstance(o, Report) for o in outcomes) == 1
    assert all(isinstance(o, ReportRefused) for o in outcomes if not isinstance(o, Report))
