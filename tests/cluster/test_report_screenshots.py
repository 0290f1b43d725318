"""A screenshot filed with a report through one node is read by the committee on the other.

Reporters' screenshots are private files (STORAGES["reports"], CASEVOTE_PRIVATE_MEDIA_ROOT)
served only to the committee through the admin. Every node must write them where every
node reads them: a report filed on node 0 whose screenshot node 1 cannot find is a report
the committee cannot check.
"""

import http.client
import re
import secrets
import time

import pytest

from tests.load.voters import CSRF, DWELL_SECONDS, Browser, Page, Stats, expect, find
from tests.reports_helpers import png_bytes, report_data

from .residents import Committee, forwarded, fresh_address, port_of, scalar

pytestmark = [pytest.mark.cluster, pytest.mark.postgres]

REPORT_TOKEN = re.compile(r'name="token" value="([^"]+)"')
REPORT_CODE = re.compile(r'class="receipt-code report-code">([A-Z0-9-]+)<')


def multipart(fields: dict[str, str], files: dict[str, tuple[str, str, bytes]]):
    """(body, content type) of a multipart/form-data form, as a browser sends one."""
    boundary = f"----casevote{secrets.token_hex(12)}"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, (filename, content_type, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post_multipart(browser: Browser, path: str, fields: dict, files: dict) -> Page:
    """The browser's POST of a form with files (its cookies, Origin and forwarded address)."""
    body, content_type = multipart(fields, files)
    headers = {
        **browser.headers,
        "User-Agent": browser.user_agent,
        "Content-Type": content_type,
        "Origin": f"http://127.0.0.1:{browser.port}",
        "Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items()),
    }
    connection = http.client.HTTPConnection("127.0.0.1", browser.port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
    finally:
        connection.close()
    return Page("POST", path, response.status, response.getheader("Location", ""), text)


def test_a_screenshot_filed_on_node_0_is_read_by_the_committee_on_node_1(default_cluster):
    cluster = default_cluster
    node0, node1 = (port_of(node.base_url) for node in cluster.nodes)
    reporter = Browser(node0, Stats(), "casevote-cluster/reporter", forwarded(fresh_address()))
    form = expect(reporter.get("/report/"), "the report form", 200)
    time.sleep(DWELL_SECONDS)  # the form refuses a report sent back at once
    filed = post_multipart(
        reporter,
        "/report/",
        report_data()
        | {
            "csrfmiddlewaretoken": find(CSRF, form, "the report form"),
            "token": find(REPORT_TOKEN, form, "the report form"),
        },
        {"screenshots": ("shot.png", "image/png", png_bytes())},
    )
    assert filed.status == 200, f"the report was not filed on node 0: {filed.excerpt()}"
    code = find(REPORT_CODE, filed, "the filed report").replace("-", "")
    report = scalar(
        cluster.direct_database_url, "SELECT id FROM reports_report WHERE code = %s", (code,)
    )

    shot = Committee(node1).sign_in().browser.get(f"/admin/reports/report/{report}/screenshots/1/")

    print(f"\n[cluster] report {code} filed on node 0; its screenshot on node 1: {shot.status}")
    assert shot.status == 200, (
        f"the committee on node 1 cannot open the screenshot filed on node 0 "
        f"({shot.status}): the nodes do not share the reports' storage"
    )
    assert shot.text[1:4] == "PNG", "node 1 answered something other than the PNG filed"
