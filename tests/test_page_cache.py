"""Public pages are cached per worker and re-rendered as soon as public content changes."""

import json

import pytest
from django.core.management import call_command

from cases.models import Case
from casevote import freshness

pytestmark = pytest.mark.django_db


def test_a_cached_campaign_page_needs_no_query(client, batch2_loaded, django_assert_num_queries):
    first = client.get("/")

    with django_assert_num_queries(0):
        second = client.get("/")

    assert second.content == first.content
    assert "Content-Security-Policy" in second


def test_filtered_lists_are_not_cached(client, batch2_loaded):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/", {"province": "四川省"})

    with CaptureQueriesContext(connection) as queries:
        client.get("/", {"province": "四川省"})

    assert len(queries) >= 1


def test_loading_a_batch_refreshes_the_cached_pages(client, batch2_loaded, tmp_path):
    assert "望泉西里南一社区" in client.get("/cases/031/").content.decode()
    from django.conf import settings

    source = json.loads((settings.BASE_DIR / "fixtures" / "batch2.json").read_text("utf-8"))
    source["cases"][0]["title"] = "北京市顺义区望泉西里南一社区（更正）"
    changed = tmp_path / "batch2-corrected.json"
    changed.write_text(json.dumps(source, ensure_ascii=False), "utf-8")

    call_command("load_cases", str(changed), verbosity=0)

    assert "（更正）" in client.get("/cases/031/").content.decode()
    assert "（更正）" in client.get("/").content.decode()


def test_a_queryset_update_refreshes_the_cached_pages_at_once(client, batch2_loaded):
    assert "（更正）" not in client.get("/cases/032/").content.decode()

    Case.objects.filter(number=32).update(title="更正后的名称（更正）")

    assert "（更正）" in client.get("/cases/032/").content.decode()
    assert "（更正）" in client.get("/").content.decode()


def test_reads_and_new_ballots_do_not_renew_the_token(voter, cast):
    before = freshness.version()

    voter.get("/")
    assert cast(["031"]).status_code == 302

    assert freshness.version() == before


def test_another_workers_change_retires_this_workers_copy(client, batch2_loaded):
    before = freshness.version()
    client.get("/")

    freshness.changed()

    assert freshness.version() != before
