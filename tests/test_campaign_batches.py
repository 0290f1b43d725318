"""The campaign across batches: editors prepare a draft while a vote runs and the public
sees nothing; the committee publishes, opens, closes and archives batches by recorded
decisions; every published batch stays on the site with its results and announcements;
the final list spans the campaign; edits that would orphan or move cases are refused."""

import json
from datetime import datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from ballots.models import Ballot, Decision
from cases.models import Batch, Case, featured_batch
from tests.conftest import CLOSES, OPENS, SHANGHAI, VOTING_NOW, form_token, make_ballot
from tests.test_moderation import BATCHES, CASES, confirm_action, disqualify

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = [
    "/",
    "/cases/031/",
    "/cases/040/",
    "/batches/2/",
    "/results/",
    "/batches/2/results/",
    "/selected/",
    "/announcements/",
]


def public_snapshot(client) -> dict[str, tuple[int, bytes]]:
    return {path: (r.status_code, r.content) for path in PUBLIC_PAGES if (r := client.get(path))}


def batch3_file(tmp_path, numbers=(61, 62, 63), **batch) -> str:
    data = {
        "batch": {
            "number": 3,
            "name": "第三批初选入围案例",
            "notice": ["第三批公告。"],
            "first_number": 61,
            "last_number": 90,
            **batch,
        },
        "cases": [
            {"number": n, "title": f"第三批社区{n}", "province": "浙江省", "body": [f"案例{n}。"]}
            for n in numbers
        ],
    }
    path = tmp_path / "batch3.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return str(path)


def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def public():
    """A resident's browser (`client` is the committee member's once they sign in)."""
    return Client()


@pytest.fixture
def editor_client(editor):
    return staff_client(editor)


@pytest.fixture
def batch3(open_batch, tmp_path):
    """Batch 3 (061–063), loaded by the editors: a draft."""
    call_command("load_cases", batch3_file(tmp_path), verbosity=0)
    return Batch.objects.get(number=3)


def publish(committee_client, batch, reason="组委会会议决定发布"):
    return confirm_action(committee_client, BATCHES, "publish_batch", [batch], reason=reason)


def open_voting(committee_client, batch, opens="2026-12-04 08:00", closes="2026-12-20 20:00"):
    return confirm_action(
        committee_client,
        BATCHES,
        "open_voting",
        [batch],
        opens_at=opens,
        closes_at=closes,
        reason="组委会决定开放投票",
    )


def messages(client) -> str:
    """The admin's messages, shown on the next page after an action."""
    return client.get(BATCHES).content.decode()


# --- Drafts ----------------------------------------------------------------------------


def test_an_editor_drafts_and_fills_batch_3_during_batch_2s_vote_and_nothing_public_changes(
    client, open_batch, clock, editor_client, tmp_path
):
    before = public_snapshot(client)

    call_command("load_cases", batch3_file(tmp_path), verbosity=0)
    batch3 = Batch.objects.get(number=3)
    added = editor_client.post(
        f"{CASES}add/",
        {"number": 64, "batch": batch3.pk, "title": "编辑在后台加的案例", "body": "一段。"},
    )
    assert added.status_code == 302, added.content.decode()
    edited = editor_client.post(
        f"{BATCHES}{batch3.pk}/change/",
        {
            "number": 3,
            "name": "第三批（改名）",
            "notice": "",
            "first_number": 61,
            "last_number": 90,
        },
    )
    assert edited.status_code == 302

    assert batch3.cases.count() == 4 and not Batch.objects.get(number=3).is_published
    assert public_snapshot(client) == before
    for path in (
        "/batches/3/",
        "/cases/061/",
        "/cases/064/",
        "/batches/3/results/",
        "/batches/3/vote/",
    ):
        assert client.get(path).status_code == 404, path


def test_a_draft_is_not_on_the_ballot_nor_votable(voter, batch3, clock):
    page = voter.get("/vote/").content.decode()

    assert "第三批" not in page and "061" not in page
    assert voter.get("/batches/3/vote/").status_code == 404
    assert voter.get("/batches/2/vote/").status_code == 200


def test_staff_preview_drafts_and_the_preview_is_never_served_to_the_public(
    client, batch3, editor_client
):
    for path in ("/batches/3/", "/cases/061/"):
        preview = editor_client.get(path)
        assert preview.status_code == 200
        assert "草稿预览" in preview.content.decode()
        assert client.get(path).status_code == 404  # not from the staff member's copy
    assert "第三批初选入围案例" not in editor_client.get("/").content.decode()  # as the public


# --- The committee's decisions ---------------------------------------------------------


def test_the_committee_publishes_batch_3_and_both_batches_are_reachable(
    public, batch3, clock, committee_client, committee_member
):
    publish(committee_client, batch3)

    batch3.refresh_from_db()
    assert batch3.is_published
    decision = Decision.objects.get(kind=Decision.Kind.PUBLISH_BATCH)
    assert (decision.batch, decision.decided_by) == (batch3, committee_member)
    assert decision.reason == "组委会会议决定发布" and decision.scope["cases"] == 3
    for path in ("/batches/2/", "/batches/3/", "/cases/031/", "/cases/061/", "/batches/3/results/"):
        assert public.get(path).status_code == 200, path
    campaign = public.get("/").content.decode()
    # Batch 2 is voting, so it comes first; batch 3 is listed below, linking to its page.
    assert campaign.index("第二批初选入围案例") < campaign.index('href="/batches/3/"')
    assert "投票尚未开放" in campaign


def test_a_ballot_in_one_batch_does_not_use_up_another(voter, batch3, clock, committee_member):
    committee = staff_client(committee_member)  # `voter` is a resident's browser
    publish(committee, batch3)
    open_voting(committee, batch3)

    for path, number in (("/batches/2/vote/", "031"), ("/batches/3/vote/", "061")):
        token = form_token(voter.get(path))
        clock.shift(timedelta(seconds=5))
        response = voter.post(path, {"cases": [number], "token": token, "website": ""})
        assert response.status_code == 302, response.content.decode()
    assert sorted(Ballot.objects.values_list("batch__number", flat=True)) == [2, 3]
    # Both open: the campaign page shows the newest first, and /vote/ follows it.
    assert "第三批初选入围案例" in voter.get("/vote/").content.decode()
    assert "同时在投票" in voter.get("/vote/").content.decode()


def test_publishing_is_reversible_until_someone_votes(batch3, committee_client, open_batch):
    publish(committee_client, batch3)
    confirm_action(committee_client, BATCHES, "withdraw_batch", [batch3], reason="发现错别字")
    assert not Batch.objects.get(number=3).is_published

    make_ballot(open_batch, [31])
    confirm_action(committee_client, BATCHES, "withdraw_batch", [open_batch], reason="误操作撤回")
    assert "已有 1 张选票，不能撤回发布" in messages(committee_client)
    assert Batch.objects.get(number=2).is_published
    kinds = list(Decision.objects.order_by("pk").values_list("kind", flat=True))
    assert kinds == ["publish_batch", "withdraw_batch"]


def test_closing_reopening_and_archiving_are_recorded_and_undone_by_new_decisions(
    public, open_batch, clock, committee_client
):
    confirm_action(committee_client, BATCHES, "close_voting", [open_batch], reason="提前结束投票")
    assert Batch.objects.get(number=2).voting_closes_at == VOTING_NOW
    assert "本批投票已结束" in public.get("/results/").content.decode()

    open_voting(committee_client, open_batch, closes="2026-12-10 20:00")
    assert Batch.objects.get(number=2).is_open(timezone.now())

    confirm_action(committee_client, BATCHES, "archive_batch", [open_batch], reason="归档本批")
    assert "投票还没有结束，请先结束投票" in messages(committee_client)
    confirm_action(committee_client, BATCHES, "close_voting", [open_batch], reason="投票结束")
    confirm_action(committee_client, BATCHES, "archive_batch", [open_batch], reason="本批结束")
    assert Batch.objects.get(number=2).is_archived
    assert public.get("/batches/2/").status_code == 200
    confirm_action(
        committee_client, BATCHES, "unarchive_batch", [open_batch], reason="归档有误，撤回"
    )
    assert not Batch.objects.get(number=2).is_archived

    assert list(Decision.objects.order_by("pk").values_list("kind", flat=True)) == [
        "close_voting",
        "open_voting",
        "close_voting",
        "archive",
        "unarchive",
    ]
    reopened = Decision.objects.filter(kind="open_voting").get()
    assert datetime.fromisoformat(reopened.scope["before"]["closes"]) == VOTING_NOW


def test_changing_a_published_batchs_rules_asks_for_a_reason_and_is_recorded(
    open_batch, committee_client
):
    def edit(**extra):
        return committee_client.post(
            f"{BATCHES}{open_batch.pk}/change/",
            {
                "number": 2,
                "name": open_batch.name,
                "notice": open_batch.notice,
                "first_number": 31,
                "last_number": 60,
                "voting_opens_at_0": "2026-12-01",
                "voting_opens_at_1": "08:00:00",
                "voting_closes_at_0": "2026-12-31",
                "voting_closes_at_1": "20:00:00",
                "min_choices": 1,
                "max_choices": 3,
                "frequency": "daily",
                "results_visibility": "hidden",
                **extra,
            },
        )

    refused = edit()
    assert refused.status_code == 200
    assert "修改投票设置请写明理由" in refused.content.decode()
    assert Batch.objects.get(number=2).max_choices is None

    assert edit(change_reason="组委会决定每票最多选3个").status_code == 302
    assert Batch.objects.get(number=2).max_choices == 3
    decision = Decision.objects.get(kind=Decision.Kind.CHANGE_RULES)
    assert decision.scope == {"changes": {"max_choices": ["None", "3"]}}
    assert decision.reason == "组委会决定每票最多选3个"


def test_editors_cannot_publish_open_or_change_the_voting_rules(open_batch, batch3, editor_client):
    response = confirm_action(editor_client, BATCHES, "publish_batch", [batch3], reason="编辑发布")
    assert not Batch.objects.get(number=3).is_published
    assert response.status_code in (200, 302)
    editor_client.post(
        f"{BATCHES}{open_batch.pk}/change/",
        {
            "number": 2,
            "name": open_batch.name,
            "notice": open_batch.notice,
            "first_number": 31,
            "last_number": 60,
            "min_choices": 5,
            "max_choices": 5,
        },
    )
    stored = Batch.objects.get(number=2)
    assert (stored.min_choices, stored.max_choices, stored.voting_closes_at) == (1, None, CLOSES)
    assert not Decision.objects.exists()


# --- Past batches and the final list ---------------------------------------------------


def test_batch_2s_results_and_announcements_stay_on_the_site_after_it_closes(
    public, open_batch, batch3, clock, committee_client
):
    make_ballot(open_batch, [31, 32])
    make_ballot(open_batch, [32])
    disqualify(committee_client, Case.objects.get(number=33))
    confirm_action(committee_client, BATCHES, "close_voting", [open_batch], reason="投票结束")
    confirm_action(committee_client, BATCHES, "publish_results", [open_batch], reason="公布结果")
    confirm_action(committee_client, BATCHES, "archive_batch", [open_batch], reason="本批结束")
    publish(committee_client, batch3)
    open_voting(committee_client, batch3)

    campaign = public.get("/").content.decode()
    assert campaign.index("第三批初选入围案例") < campaign.index('href="/batches/2/"')
    page = public.get("/batches/2/").content.decode()
    assert "有效选票 2 张" in page
    assert "关于取消033号案例推选资格的公告" in page
    assert "已归档" in page
    results = public.get("/batches/2/results/")
    assert results.context["results"].total_ballots == 2
    assert "关于取消033号案例推选资格的公告" in public.get("/announcements/").content.decode()
    assert public.get("/cases/031/").status_code == 200


def test_the_final_list_spans_both_batches_grouped_by_batch(
    public, open_batch, batch3, committee_client
):
    publish(committee_client, batch3)
    for number in (32, 62):
        confirm_action(
            committee_client, CASES, "select", [Case.objects.get(number=number)], reason="综合评定"
        )
    confirm_action(
        committee_client, BATCHES, "publish_selected", [open_batch], reason="公布入选名单"
    )
    page = public.get("/selected/").content.decode()
    assert "032" in page and "062" not in page and "本批入选名单尚未公布" in page

    confirm_action(committee_client, BATCHES, "publish_selected", [batch3], reason="公布入选名单")

    page = public.get("/selected/").content.decode()
    assert page.index("第二批初选入围案例") < page.index("032") < page.index("第三批初选入围案例")
    assert page.index("第三批初选入围案例") < page.index("062")
    assert "第三批社区62" in public.get("/batches/3/").content.decode().split("本批入选案例")[1]


# --- Edits that would orphan or move cases ----------------------------------------------


def test_narrowing_a_batchs_range_in_the_admin_is_refused(open_batch, editor_client):
    response = editor_client.post(
        f"{BATCHES}{open_batch.pk}/change/",
        {"number": 2, "name": open_batch.name, "notice": "", "first_number": 31, "last_number": 35},
    )
    assert response.status_code == 200
    assert "第2批已有案例 036、037、038、039、040，不在范围 031–035 内" in response.content.decode()
    assert Batch.objects.get(number=2).last_number == 60


def test_moving_or_renumbering_a_published_batchs_case_is_refused(
    open_batch, batch3, editor_client
):
    case = Case.objects.get(number=31)
    data = {"number": 31, "batch": batch3.pk, "title": case.title, "body": case.body}
    moved = editor_client.post(f"{CASES}{case.pk}/change/", data)
    assert "第2批已经发布，案例 031 不能移入或移出该批次" in moved.content.decode()
    renumbered = editor_client.post(
        f"{CASES}{case.pk}/change/", {**data, "batch": open_batch.pk, "number": 41}
    )
    assert "不能改编号" in renumbered.content.decode()
    added = editor_client.post(
        f"{CASES}add/", {**data, "batch": open_batch.pk, "number": 45, "title": "新案例"}
    )
    assert "第2批已经发布，不能再增加案例" in added.content.decode()
    assert list(Case.objects.filter(batch=open_batch).values_list("number", flat=True)) == list(
        range(31, 41)
    )


def test_load_cases_refuses_to_add_to_a_published_batch_or_to_narrow_its_range(
    open_batch, tmp_path, make_case
):
    path = tmp_path / "batch2.json"
    block = {"number": 2, "name": open_batch.name, "first_number": 31, "last_number": 60}
    cases = [{"number": 41, "title": "迟到的案例", "body": "一段。"}]
    path.write_text(json.dumps({"batch": block, "cases": cases}, ensure_ascii=False), "utf-8")

    with pytest.raises(CommandError, match="第2批已经发布，不能再增加案例"):
        call_command("load_cases", str(path), verbosity=0)

    narrowed = {**block, "last_number": 35}
    cases = [{"number": 31, "title": "更正的标题", "body": "一段。"}]
    path.write_text(json.dumps({"batch": narrowed, "cases": cases}, ensure_ascii=False), "utf-8")
    with pytest.raises(CommandError, match="已有案例 036《测试社区36》不在新范围 031–035 内"):
        call_command("load_cases", str(path), verbosity=0)
    assert Case.objects.filter(batch=open_batch).count() == 10
    assert Case.objects.get(number=31).title == "测试社区31"


# --- Commands ---------------------------------------------------------------------------


def test_the_commands_publish_and_open_a_batch_and_say_who_did(batch3, capsys, committee_client):
    with pytest.raises(CommandError, match="第3批还是草稿：请先由组委会发布"):
        call_command("set_voting", "--batch", "3", "--open-now", "--days", "7")

    call_command("publish_batch", "--batch", "3", "--reason", "组委会决定发布第三批")
    call_command("publish_batch", "--batch", "3", "--reason", "再次运行不改动")  # idempotent
    call_command(
        "set_voting", "--batch", "3", "--open-now", "--days", "7", "--reason", "组委会决定开放"
    )

    out = capsys.readouterr().out
    assert "已发布第3批" in out and "第3批已于" in out and "没有改动" in out
    decisions = Decision.objects.order_by("pk")
    assert [d.kind for d in decisions] == ["publish_batch", "open_voting"]
    assert all(d.decided_by is None for d in decisions)
    assert decisions[0].decided_via.startswith("manage.py publish_batch（系统账号 ")
    assert decisions[1].maker_display.startswith("命令行：manage.py set_voting")
    assert Batch.objects.get(number=3).is_open(timezone.now())
    audit = committee_client.get("/admin/ballots/decision/").content.decode()
    assert "命令行：manage.py publish_batch（系统账号" in audit


def test_a_batch_with_no_case_cannot_be_published(db):
    Batch.objects.create(number=4, name="第四批", first_number=91, last_number=120)
    with pytest.raises(CommandError, match="第4批还没有案例，不能发布"):
        call_command("publish_batch", "--batch", "4", "--reason", "组委会决定")


# --- Which batch comes first -------------------------------------------------------------


def batch(number, *, published=True, archived=False, window=None) -> Batch:
    opens, closes = window or (None, None)
    return Batch(
        number=number,
        published_at=OPENS if published else None,
        archived_at=CLOSES if archived else None,
        voting_opens_at=opens,
        voting_closes_at=closes,
    )


OPEN = (OPENS, CLOSES)
OVER = (OPENS - timedelta(days=30), OPENS - timedelta(days=1))


@pytest.mark.parametrize(
    ("batches", "expected"),
    [
        ([], None),
        ([batch(2, published=False)], None),
        ([batch(2, window=OPEN), batch(3)], 2),  # the vote that is open comes first
        ([batch(2, window=OPEN), batch(3, window=OPEN)], 3),
        ([batch(2, window=OVER), batch(3)], 3),
        ([batch(2, window=OVER), batch(3, published=False)], 2),
        ([batch(2, window=OVER, archived=True), batch(3, window=OVER, archived=True)], 3),
        ([batch(2, window=OVER), batch(3, window=OVER, archived=True)], 2),
    ],
)
def test_the_featured_batch(batches, expected):
    chosen = featured_batch(batches, VOTING_NOW)
    assert (chosen.number if chosen else None) == expected


# --- The migration ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_publishes_the_batches_that_already_had_cases():
    executor = MigrationExecutor(connection)
    before = [
        ("cases", "0004_remove_batch_anonymised_at"),
        ("ballots", "0006_anonymisation_follow_events"),
    ]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldBatch, OldCase = old.get_model("cases", "Batch"), old.get_model("cases", "Case")
    created = datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)
    two = OldBatch.objects.create(number=2, name="第二批", first_number=31, last_number=60)
    OldBatch.objects.filter(pk=two.pk).update(created_at=created)
    OldCase.objects.create(number=31, batch=two, title="案例", body="一段。")
    OldBatch.objects.create(number=3, name="第三批", first_number=61, last_number=90)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Batch.objects.get(number=2).published_at == created
    assert not Batch.objects.get(number=3).is_published
