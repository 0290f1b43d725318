"""A committee decision taken on one node shows on the other node's very next request.

Each node's workers keep whole pages in their own memory (casevote.pagecache), keyed by
the content token in the shared cache (casevote.freshness). With the token in Redis, a
decision on node 0 retires node 1's copies at once; with a shared cache per node, node 1
would go on serving its copies for CASEVOTE_PAGE_CACHE_SECONDS (the results page for
CASEVOTE_RESULTS_CACHE_SECONDS). So node 1's copies are made first, then the decision
is taken in node 0's admin, then node 1 is asked.
"""

import re

import pytest

from tests.load.voters import Page

from .residents import Committee, batch_pk, case_pk, port_of, read, warm

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]

DISQUALIFIED = 33  # 031 and 032 are other tests' (test_redis_outage disqualifies 032)
LIVE_RESULTS = (
    "from cases.models import Batch; "
    "Batch.objects.filter(number=2).update(results_visibility=Batch.ResultsVisibility.LIVE)"
)
DISQUALIFIED_NOTE = "该案例已被取消推选资格"
DISQUALIFIED_SECTION = "已取消推选资格的案例"

BATCH3_NAME = "第三批初选入围案例"
BATCH3_CSV = """number,title,province,body
61,河北省石家庄市长安区建北街道,河北省,"河北省石家庄市长安区建北街道以党建引领“一老一小”服务。"
62,山东省青岛市市南区八大峡街道,山东省,"山东省青岛市市南区八大峡街道推行“海上枫桥”调解机制。"
"""


def case_item(page: Page, number: int) -> str:
    """The campaign page's list entry for case `number` ("" when it is not listed)."""
    found = re.search(
        rf'<span class="case-number">{number:03d}</span>.*?</a>', page.text, re.DOTALL
    )
    return found.group(0) if found else ""


def disqualified_list(page: Page) -> str:
    found = re.search(r'<ul class="disqualified">(.*?)</ul>', page.text, re.DOTALL)
    return found.group(1) if found else ""


def test_a_disqualification_in_node_0s_admin_shows_on_node_1_at_once(default_cluster):
    cluster = default_cluster
    node0, node1 = (port_of(node.base_url) for node in cluster.nodes)
    nginx = port_of(cluster.url)
    case_page = f"/cases/{DISQUALIFIED:03d}/"
    pages = ["/", case_page, "/batches/2/results/"]
    cluster.manage("shell", "-c", LIVE_RESULTS)  # the results page lists disqualified cases

    before = warm(node1, pages)
    assert DISQUALIFIED_NOTE not in before[case_page].text, "the case was disqualified already"
    assert "已取消资格" not in case_item(before["/"], DISQUALIFIED), "campaign: marked already"
    assert f"{DISQUALIFIED:03d}" not in disqualified_list(before["/batches/2/results/"])

    Committee(node0).sign_in().disqualify(
        case_pk(cluster.direct_database_url, DISQUALIFIED), DISQUALIFIED
    )

    for where, port in (("node 1", node1), ("nginx", nginx), ("nginx again", nginx)):
        after = {path: read(port, path) for path in pages}
        assert all(page.status == 200 for page in after.values()), {
            path: page.status for path, page in after.items()
        }
        assert DISQUALIFIED_NOTE in after[case_page].text, (
            f"{where}: the case page still shows case {DISQUALIFIED:03d} as votable after "
            "node 0 disqualified it (a page cached before the decision was served)"
        )
        item = case_item(after["/"], DISQUALIFIED)
        assert item, f"{where}: the campaign page no longer lists case {DISQUALIFIED:03d}"
        assert "已取消资格" in item, (
            f"{where}: the campaign page does not mark case {DISQUALIFIED:03d} disqualified "
            "after node 0's decision (a stale cached copy)"
        )
        assert f"{DISQUALIFIED:03d}" in disqualified_list(after["/batches/2/results/"]), (
            f"{where}: the results page does not list case {DISQUALIFIED:03d} among the "
            "disqualified after node 0's decision (a stale cached copy)"
        )


def test_a_batch_published_in_node_0s_admin_shows_on_node_1_at_once(default_cluster, tmp_path):
    cluster = default_cluster
    node0, node1 = (port_of(node.base_url) for node in cluster.nodes)
    nginx = port_of(cluster.url)
    csv = tmp_path / "batch3.csv"
    csv.write_text(BATCH3_CSV, encoding="utf-8-sig")
    cluster.manage(
        "load_cases",
        str(csv),
        *("--batch", "3", "--batch-name", BATCH3_NAME, "--first", "61", "--last", "90"),
        "-v0",
    )  # a draft: the public does not see it yet

    before = warm(node1, ["/", "/results/"])
    assert BATCH3_NAME not in before["/"].text, "the campaign page shows batch 3 while a draft"
    for path in ("/cases/061/", "/batches/3/", "/batches/3/results/"):
        drafted = read(node1, path)
        assert drafted.status == 404, f"{path} answers {drafted.status} while batch 3 is a draft"

    Committee(node0).sign_in().publish_batch(batch_pk(cluster.direct_database_url, 3))

    for where, port in (("node 1", node1), ("nginx", nginx), ("nginx again", nginx)):
        campaign = read(port, "/")
        assert campaign.status == 200 and BATCH3_NAME in campaign.text, (
            f"{where}: the campaign page does not list batch 3 after node 0 published it "
            "(a page cached before the decision was served)"
        )
        case = read(port, "/cases/061/")
        assert case.status == 200 and "建北街道" in case.text, (
            f"{where}: the new case page answers {case.status} after batch 3 was published"
        )
        results = read(port, "/batches/3/results/")
        assert results.status == 200 and BATCH3_NAME in results.text, (
            f"{where}: batch 3's results page answers {results.status} after it was published"
        )
        batch2_results = read(port, "/results/")  # voting is open in batch 2 only
        assert batch2_results.status == 200 and "第二批" in batch2_results.text, (
            f"{where}: /results/ answers {batch2_results.status} and no longer shows batch 2"
        )
