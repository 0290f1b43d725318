"""Bad input at volume on the ballot: hypothesis posts random selections, form
tokens, identities, cookies and headers to /vote/. Never a 5xx; a ballot is
recorded exactly when every part of the input is valid, and then exactly one."""

from datetime import timedelta

import pytest
from django.core import signing
from django.http import HttpResponse
from django.utils import timezone
from hypothesis import given, note
from hypothesis import strategies as st

from ballots import identity, tokens
from ballots.models import Ballot, Choice, Follower
from ballots.services import BallotRequest, cast_ballot
from cases import catalogue
from cases.models import Batch, Case
from tests.fuzzing import (
    assert_no_server_error,
    fuzz_client,
    fuzz_settings,
    header_text,
    nasty_text,
    random_fields,
    random_headers,
    rolled_back,
    tamper,
    wsgi_header,
)

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

VOTABLE = range(31, 40)  # open_batch has 031–040; 040 is disqualified below
MAX_CHOICES = 5


@pytest.fixture
def ballot_box(open_batch, make_case, clock, settings):
    """Batch 2 open (031–039 votable, 040 disqualified, at most 5 choices), batch 1
    with cases of its own, and our proxy in front so X-Forwarded-For is read."""
    Case.objects.filter(number=40).update(status=Case.Status.DISQUALIFIED)
    open_batch.max_choices = MAX_CHOICES
    open_batch.save()
    batch1 = Batch.objects.create(number=1, name="第一批", first_number=1, last_number=30)
    for number in (1, 2, 3):
        make_case(number, batch=batch1)
    settings.CASEVOTE_TRUSTED_PROXIES = ["127.0.0.1", "::1"]
    return open_batch, batch1


def signed_cookie(name: str, value: str, salt: str) -> str:
    """The cookie value the site itself would set (signed with the site's key)."""
    response = HttpResponse()
    response.set_signed_cookie(name, value, salt=salt)
    return response.cookies[name].value


# --- What the ballot's parts may be, and whether each is valid ---------------------


def valid_number(number: int) -> st.SearchStrategy[str]:
    return st.sampled_from([f"{number:03d}", str(number), f" {number:03d} ", f"{number:03d}\n"])


case_value = st.one_of(
    st.sampled_from(VOTABLE).flatmap(valid_number),
    st.sampled_from(
        ["040", "001", "1", "030", "045", "061", "000", "0", "999", "1000", "0031", "-31", "+31"]
    ),
    st.sampled_from(["3.1e1", "0x1f", "31.0", "０３１", "٠٣١", "³¹", "", " "]),
    st.integers().map(str),
    nasty_text,
)


def names_a_votable_case(value: str) -> int | None:
    """The spec, independently of the code: ASCII digits, at most three, naming a
    votable case of the batch (surrounding whitespace is forgiven)."""
    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) <= 3 and int(text) in VOTABLE:
        return int(text)
    return None


def valid_selection(values: list[str]) -> list[int] | None:
    numbers = [names_a_votable_case(v) for v in values]
    if not values or None in numbers or len(set(numbers)) != len(numbers):
        return None
    return numbers if len(numbers) <= MAX_CHOICES else None


TOKEN_KINDS = {
    # kind: valid for a follower who has not voted today
    "fresh": True,
    "two_seconds": True,
    "ten_minutes": True,
    "missing": False,
    "empty": False,
    "too_fast": False,
    "expired": False,
    "future": False,
    "other_follower": False,
    "other_batch": False,
    "tampered": False,
    "garbage": False,
    "follow_link_token": False,
    "forged_payload": False,
}

FORGED_PAYLOADS = [
    {},
    {"n": "x"},
    {"n": "x", "t": "nan", "f": 1, "b": 1},
    {"n": "x", "t": float("inf"), "f": 1, "b": 1},
    {"n": "x", "t": 1e308, "f": 1, "b": 1},
    {"n": "x", "t": -1e308, "f": 1, "b": 1},
    {"n": "x", "t": None, "f": 1, "b": 1},
    {"n": "x", "t": [], "f": 1, "b": 1},
    {"n": "x", "t": 0, "f": "abc", "b": 1},
    {"n": "x", "t": 0, "f": 10**40, "b": 1},
    [],
    "a string",
    None,
]


def form_token(data, kind: str, follower: Follower, other: Follower, batch, batch1) -> str | None:
    now = timezone.now()
    ago = {"two_seconds": 2, "ten_minutes": 600, "too_fast": 1.5, "expired": 601, "future": -60}
    if kind in {"fresh", "tampered"}:
        token = tokens.make_form_token(follower.pk, batch.pk, now - timedelta(seconds=5))
        return tamper(data, token) if kind == "tampered" else token
    if kind in ago:
        return tokens.make_form_token(follower.pk, batch.pk, now - timedelta(seconds=ago[kind]))
    if kind == "other_follower":
        return tokens.make_form_token(other.pk, batch.pk, now - timedelta(seconds=5))
    if kind == "other_batch":
        return tokens.make_form_token(follower.pk, batch1.pk, now - timedelta(seconds=5))
    if kind == "garbage":
        return data.draw(nasty_text.filter(bool))
    if kind == "follow_link_token":
        return tokens.make_follow_token()
    if kind == "forged_payload":  # signed with the site's key: unreachable without it
        return signing.dumps(data.draw(st.sampled_from(FORGED_PAYLOADS)), salt=tokens.FORM_SALT)
    return {"missing": None, "empty": ""}[kind]


IDENTITY_KINDS = {
    "follower": True,
    "none": False,
    "tampered": False,
    "garbage": False,
    "unknown_follower": False,
    "wechat_follower": False,
    "forged_value": False,
}


def follower_cookie(data, kind: str, follower: Follower, wechat: Follower) -> str | None:
    def signed(value: str) -> str:
        return signed_cookie(identity.FOLLOWER_COOKIE, value, identity.FOLLOWER_SALT)

    if kind == "follower":
        return signed(str(follower.pk))
    if kind == "tampered":
        return tamper(data, signed(str(follower.pk)))
    if kind == "garbage":
        return data.draw(header_text)
    if kind == "unknown_follower":
        return signed(str(data.draw(st.sampled_from([follower.pk + 10**6, 0, 10**30]))))
    if kind == "wechat_follower":
        return signed(str(wechat.pk))
    if kind == "forged_value":  # signed with the site's key: unreachable without it
        return signed(data.draw(st.sampled_from(["", "-1", "abc", "１", "²", "٣", "1.0", " 1"])))
    return None


def device_cookie(data) -> str | None:
    valid = signed_cookie(identity.DEVICE_COOKIE, "a" * 32, identity.DEVICE_SALT)
    return data.draw(
        st.one_of(
            st.none(),
            st.just(valid),
            st.just(valid).flatmap(lambda v: st.builds(lambda: v + "x")),
            header_text,
            st.just("d" * 8000),
            st.just(signed_cookie(identity.DEVICE_COOKIE, "短" * 32, identity.DEVICE_SALT)),
        )
    )


def cookie_header(data, cookies: dict[str, str | None]) -> str:
    parts = [f"{name}={value}" for name, value in cookies.items() if value is not None]
    parts += [f"{k}={v}" for k, v in data.draw(st.dictionaries(header_text, header_text)).items()]
    parts = data.draw(st.permutations(parts)) if parts else parts
    return wsgi_header("; ".join(parts))


def previous_ballot(follower: Follower, batch) -> tuple[Ballot, str]:
    """A ballot this follower cast earlier today, and the token of its form."""
    now = timezone.now()
    token = tokens.make_form_token(follower.pk, batch.pk, now - timedelta(minutes=3))
    meta = BallotRequest(ip=None, user_agent="", device_id="", form_token=token)
    ballot = cast_ballot(
        follower=follower,
        catalogue=catalogue.load(batch),
        cases=["031"],
        request_meta=meta,
        now=now - timedelta(minutes=1),
    ).ballot
    return ballot, token


# --- The properties ------------------------------------------------------------------


PARTS = ("identity", "token", "cases", "honeypot", "voted_before")

valid_cases = st.lists(
    st.sampled_from(VOTABLE), min_size=1, max_size=MAX_CHOICES, unique=True
).flatmap(lambda numbers: st.tuples(*(valid_number(n) for n in numbers)).map(list))
invalid_cases = st.one_of(
    st.lists(case_value, max_size=12),
    st.lists(st.sampled_from(VOTABLE), min_size=MAX_CHOICES + 1, max_size=9, unique=True).map(
        lambda numbers: [f"{n:03d}" for n in numbers]
    ),
    st.sampled_from(VOTABLE).map(lambda n: [f"{n:03d}", str(n)]),
).filter(lambda values: valid_selection(values) is None)
blank_honeypot = st.sampled_from(["", "  ", "\t\n"])
filled_honeypot = nasty_text.filter(lambda v: v.strip() != "" or "\x00" in v)


def test_it_never_fails_and_records_a_ballot_only_from_valid_input(ballot_box):
    """Each example is a valid ballot with 0–2 of its parts broken (and garbage
    around it): recorded exactly when nothing is broken."""
    batch, batch1 = ballot_box
    wechat = Follower.objects.create(backend="wechat", key="openid-1", followed_at=timezone.now())
    seen = {"recorded": 0, "refused": 0}

    @fuzz_settings(300)
    @given(data=st.data(), broken=st.sets(st.sampled_from(PARTS), max_size=2))
    def post_a_ballot(data, broken):
        with rolled_back():
            follower = Follower.objects.create(key="f", followed_at=timezone.now())
            other = Follower.objects.create(key="o", followed_at=timezone.now())
            voted_before = "voted_before" in broken
            previous, previous_token = (
                previous_ballot(follower, batch) if voted_before else (None, None)
            )

            def pick(part: str, kinds: dict[str, bool]) -> str:
                wanted = part not in broken
                return data.draw(
                    st.sampled_from(sorted(k for k, ok in kinds.items() if ok == wanted)),
                    label=part,
                )

            who = pick("identity", IDENTITY_KINDS)
            token_kinds = {**TOKEN_KINDS, "reused": False} if voted_before else TOKEN_KINDS
            token_kind = pick("token", token_kinds)
            token = (
                previous_token
                if token_kind == "reused"
                else form_token(data, token_kind, follower, other, batch, batch1)
            )
            cases = data.draw(invalid_cases if "cases" in broken else valid_cases, label="cases")
            honeypot = data.draw(
                filled_honeypot if "honeypot" in broken else blank_honeypot, label="website"
            )
            fields = {**data.draw(random_fields), "cases": cases, "website": honeypot}
            if token is not None:
                fields["token"] = token
            headers = data.draw(random_headers, label="headers")
            headers["HTTP_COOKIE"] = cookie_header(
                data,
                {
                    identity.FOLLOWER_COOKIE: follower_cookie(data, who, follower, wechat),
                    identity.DEVICE_COOKIE: device_cookie(data),
                },
            )
            ballots, choices = Ballot.objects.count(), Choice.objects.count()

            response = fuzz_client().post("/vote/", fields, **headers)

            assert_no_server_error(response)
            note(f"status={response.status_code}")
            if not broken:
                seen["recorded"] += 1
                assert response.status_code == 302
                assert Ballot.objects.count() == ballots + 1
                ballot = Ballot.objects.get(follower=follower)
                assert response["Location"] == f"/vote/thanks/{ballot.receipt}/"
                chosen = sorted(ballot.cases.values_list("number", flat=True))
                assert chosen == sorted(valid_selection(cases))
            else:
                seen["refused"] += 1
                assert Ballot.objects.count() == ballots
                assert Choice.objects.count() == choices
                if response.status_code == 302:  # only a retry of the form that voted
                    assert previous is not None and token_kind == "reused"
                    assert response["Location"] == f"/vote/thanks/{previous.receipt}/"
                else:
                    assert response.status_code in {200, 400, 403, 409, 410, 429}

    post_a_ballot()
    # The property must have been exercised both ways, or it proves nothing.
    assert seen["recorded"] >= 10 and seen["refused"] >= 10, seen


def test_a_valid_ballot_is_recorded_exactly_once_whatever_else_comes_with_it(ballot_box):
    """Garbage headers, extra fields and cookies do not stop a valid ballot, and it
    stores exactly the chosen cases; the same form sent again stores nothing more."""
    batch, _ = ballot_box

    @fuzz_settings(150)
    @given(
        data=st.data(),
        chosen=st.lists(st.sampled_from(VOTABLE), min_size=1, max_size=MAX_CHOICES, unique=True),
        headers=random_headers,
        extra=random_fields,
        waited=st.integers(min_value=2, max_value=600),
    )
    def post_a_valid_ballot(data, chosen, headers, extra, waited):
        with rolled_back():
            follower = Follower.objects.create(key="f", followed_at=timezone.now())
            served = timezone.now() - timedelta(seconds=waited)
            token = tokens.make_form_token(follower.pk, batch.pk, served)
            cases = [data.draw(valid_number(n)) for n in chosen]
            headers["HTTP_COOKIE"] = cookie_header(
                data,
                {
                    identity.FOLLOWER_COOKIE: follower_cookie(data, "follower", follower, follower),
                    identity.DEVICE_COOKIE: device_cookie(data),
                },
            )
            fields = {**extra, "cases": cases, "token": token, "website": ""}
            client = fuzz_client()

            first = client.post("/vote/", fields, **headers)
            again = client.post("/vote/", fields, **headers)

            assert_no_server_error(first)
            assert first.status_code == 302, first.content.decode()[:2000]
            ballot = Ballot.objects.get()
            assert sorted(ballot.cases.values_list("number", flat=True)) == sorted(chosen)
            assert ballot.form_served_at == served
            assert len(ballot.user_agent) <= 500
            assert again.status_code == 302 and again["Location"] == first["Location"]
            assert Ballot.objects.count() == 1

    post_a_valid_ballot()


json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and ±Infinity included: Python's JSON writes and reads them
    st.text(max_size=40),
    st.sampled_from(["0" * 32, "ab" * 16, "x" * 5000, "\x00" * 32, "１" * 32]),
)


def test_no_signed_form_token_payload_breaks_the_ballot(ballot_box):
    """Payloads the site would never sign (only reachable with its key): refused or,
    if they look exactly like the site's own, accepted; never a 500."""
    batch, _ = ballot_box

    @fuzz_settings(200)
    @given(data=st.data())
    def post_with_a_forged_token(data):
        with rolled_back():
            follower = Follower.objects.create(key="f", followed_at=timezone.now())
            served = (timezone.now() - timedelta(seconds=5)).timestamp()
            payload = data.draw(
                st.one_of(
                    st.fixed_dictionaries(
                        {
                            "n": st.one_of(st.just(tokens.new_nonce()), json_scalar),
                            "t": st.one_of(st.just(served), json_scalar),
                            "f": st.one_of(st.just(follower.pk), json_scalar),
                            "b": st.one_of(st.just(batch.pk), json_scalar),
                        }
                    ),
                    st.recursive(
                        json_scalar,
                        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
                        max_leaves=8,
                    ),
                ),
                label="payload",
            )
            token = signing.dumps(payload, salt=tokens.FORM_SALT)
            cookie = follower_cookie(data, "follower", follower, follower)

            response = fuzz_client().post(
                "/vote/",
                {"cases": ["031"], "token": token, "website": ""},
                HTTP_COOKIE=f"{identity.FOLLOWER_COOKIE}={cookie}",
            )

            assert_no_server_error(response)
            recorded = list(Ballot.objects.values_list("form_nonce", flat=True))
            assert len(recorded) <= 1
            if recorded:
                assert response.status_code == 302
                assert recorded == [payload["n"]]

    post_with_a_forged_token()


content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=gb18030",
        "application/x-www-form-urlencoded; charset=nonexistent",
        "multipart/form-data; boundary=XyZ",
        "multipart/form-data",
        "application/json",
        "text/plain",
        "",
    ]
)


def test_random_request_bodies_are_refused_without_a_ballot(ballot_box):
    """Bytes that are no form at all (bad UTF-8, broken multipart, thousands of fields,
    odd content types) from a follower with a valid form token: never a 5xx."""
    batch, _ = ballot_box

    @fuzz_settings(150)
    @given(
        data=st.data(),
        content_type=content_types,
        body=st.one_of(
            st.binary(max_size=400),
            st.just(b"cases=031&" * 1200),  # more fields than Django accepts
            st.just(b'--XyZ\r\nContent-Disposition: form-data; name="cases"\r\n\r\n031'),
            st.lists(st.binary(max_size=20), max_size=8).map(b"&".join),
        ),
    )
    def post_bytes(data, content_type, body):
        with rolled_back():
            follower = Follower.objects.create(key="f", followed_at=timezone.now())
            token = tokens.make_form_token(
                follower.pk, batch.pk, timezone.now() - timedelta(seconds=5)
            )
            cookie = follower_cookie(data, "follower", follower, follower)
            body = body + b"&token=" + token.encode() if data.draw(st.booleans()) else body

            response = fuzz_client().generic(
                "POST",
                "/vote/",
                body,
                content_type=content_type,
                HTTP_COOKIE=f"{identity.FOLLOWER_COOKIE}={cookie}",
            )

            assert_no_server_error(response)
            assert Ballot.objects.count() == 0

    post_bytes()
