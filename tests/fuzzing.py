"""Shared pieces of the fuzz tier (tests/test_fuzz_*.py): bounded, reproducible
hypothesis settings and strategies for the bad input a public site receives.

Each fuzz test defines its property as an inner `@given` function and calls it,
so per-example state (a follower, a ballot, a client) is built inside the example,
in a savepoint that is rolled back, instead of leaking between examples through
function-scoped fixtures.
"""

import os
from contextlib import contextmanager

from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# CASEVOTE_FUZZ_EXAMPLES scales every fuzz test (e.g. 2000 for a long local run).
SCALE = float(os.environ.get("CASEVOTE_FUZZ_EXAMPLES", "1"))


def fuzz_settings(examples: int) -> settings:
    """Reproducible in CI: the same examples every run, no example database."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@contextmanager
def rolled_back():
    """One example's database changes, undone afterwards (a savepoint in the test's
    transaction). A request that failed in the database is undone too."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def fuzz_client(**kwargs) -> Client:
    """A browser whose server errors come back as responses (500), not exceptions."""
    return Client(raise_request_exception=False, **kwargs)


def assert_no_server_error(response) -> None:
    assert response.status_code < 500, (
        f"{response.request.get('REQUEST_METHOD')} {response.request.get('PATH_INFO')} "
        f"answered {response.status_code}"
    )


# --- Strategies -------------------------------------------------------------------

NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "%00",
    "\r\n",
    "\t",
    "'\"<>&;",
    "' OR 1=1 --",
    "../../etc/passwd",
    "\u202e\u200b\ufeff",
    "😀" * 20,
    "中" * 300,
    "x" * 5000,
    "Ω≈ç√∫",
    "０３１",  # fullwidth digits
    "٠٣١",  # Arabic-Indic digits
    "²",
    "NaN",
    "inf",
    "-1",
    "9" * 40,
    "１e５",
]

nasty_text = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
)


def tamper(data: st.DataObject, value: str) -> str:
    """`value` changed somewhere: a character replaced, cut short, or lengthened.

    The draws do not depend on `value` (a signed value's length varies with the row
    ids of the example), so that hypothesis can replay and shrink an example."""
    how = data.draw(st.sampled_from(["replace", "truncate", "append", "prepend"]))
    position = data.draw(st.integers(0, 2**16)) % len(value)
    if how == "replace":
        new = data.draw(st.characters(codec="ascii"))
        if new == value[position]:
            new = "A" if new != "A" else "B"
        return value[:position] + new + value[position + 1 :]
    if how == "truncate":
        return value[:position]
    # Not whitespace, which forms and cookie parsing rightly strip off again.
    visible = st.characters(codec="utf-8", exclude_categories=("Z", "C"))
    extra = data.draw(st.text(visible, min_size=1, max_size=10))
    return value + extra if how == "append" else extra + value


def wsgi_header(text: str) -> str:
    """A header value as a WSGI server hands it over: the bytes, read as latin-1."""
    return text.encode("utf-8").decode("latin-1")


header_text = nasty_text.map(wsgi_header)

forwarded_for = st.one_of(
    header_text,
    st.lists(
        st.one_of(
            st.ip_addresses().map(str),
            st.sampled_from(
                [
                    "unknown",
                    "fe80::1%eth0",
                    "fe80::1%25eth0",
                    "::ffff:198.51.100.7",
                    "256.1.1.1",
                    "1.2.3",
                    "[2001:db8::1]",
                    "2001:db8::1:80",
                    "0.0.0.0",  # noqa: S104 - a header value, not a bind address
                    "",
                ]
            ),
            header_text,
        ),
        max_size=5,
    ).map(", ".join),
)

# Extra headers a client can send; the values are garbage.
random_headers = st.fixed_dictionaries(
    {},
    optional={
        "HTTP_USER_AGENT": st.one_of(header_text, st.just("Mozilla/5.0 " + "A" * 1000)),
        "HTTP_X_FORWARDED_FOR": forwarded_for,
        "HTTP_X_REAL_IP": header_text,
        "HTTP_ACCEPT_LANGUAGE": st.one_of(header_text, st.just("zh-CN,zh;q=0.9,en;q=x")),
        "HTTP_REFERER": header_text,
        "HTTP_X_REQUESTED_WITH": header_text,
        "HTTP_ACCEPT": header_text,
    },
)

random_fields = st.dictionaries(
    # Names a browser could send (a quote or line break would break the test
    # client's multipart encoding itself, not the site).
    st.text(min_size=1, max_size=20).filter(
        lambda k: k not in {"cases", "token", "website"} and not set(k) & set('"\r\n')
    ),
    st.one_of(nasty_text, st.lists(nasty_text, max_size=3)),
    max_size=4,
)
