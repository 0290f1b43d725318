"""Voters for the load tier: the resident's real journey over loopback HTTP (stdlib only).

Each journey is a new identity (a fresh cookie jar): the gate on /vote/, its follow link,
the follow confirmation (CSRF), the ballot form, at least two seconds of reading, the
ballot, the thanks page. A "retrier" double-clicks every POST and reloads every page:
the same form must give the same receipt, and a second form a 409 "already voted".
"""

import base64
import http.client
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlencode, urlsplit

LOOPBACK = "127.0.0.1"
REQUEST_TIMEOUT = 30  # seconds; gunicorn's own worker timeout is 30 s
DWELL_SECONDS = 2.1  # the site refuses a ballot sent back sooner than 2 s
JOURNEY_SECONDS = 3  # do not start a journey with less time than this left
MAX_JOURNEYS_PER_VOTER = 1000
PAUSE_AFTER_FAILURE = (0.2, 0.5)

FOLLOW_LINK = re.compile(r'href="(?:https?://[^/"]+)?(/follow/[^/"]+/)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="token" value="([^"]+)"')
CASE_CHOICE = re.compile(r'name="cases" value="([0-9]{3})"')
STYLESHEET = re.compile(r'href="(/static/css/site\.[0-9a-f]+\.css)"')
THANKS = re.compile(r"^/vote/thanks/([0-9A-Z]+)/$")
RECEIPT_SHOWN = re.compile(r'href="/receipt/([0-9A-Z]+)/"')
TRACEBACK_MARKERS = ("Traceback", 'File "', "OperationalError", "psycopg2", "django.db")
UNAVAILABLE_TEXT = "服务暂时不可用"


class Unreachable(Exception):
    """No HTTP answer at all: refused, reset, or the worker died mid-request."""


class Unavailable(Exception):
    """The site answered 503 (the database is unreachable)."""


class WrongAnswer(AssertionError):
    """An answer the journey does not allow: a bug, or a broken expectation."""


@dataclass
class Page:
    method: str
    path: str
    status: int
    location: str
    text: str

    def excerpt(self, length: int = 300) -> str:
        alert = re.search(r'class="alert[^"]*"[^>]*>(.*?)</(?:div|p)>', self.text, re.S)
        source = alert.group(1) if alert else self.text
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", source)).strip()[:length]


@dataclass
class Ack:
    """A ballot the site acknowledged: 302 to /vote/thanks/<receipt>/."""

    receipt: str
    cases: frozenset[int]
    retrier: bool
    at: float  # time.monotonic()


@dataclass
class Stats:
    """Everything the voters saw, shared by their threads."""

    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)  # 5xx other than a clean 503
    unavailable: int = 0  # clean 503 pages
    unreachable: int = 0  # requests with no HTTP answer
    acks: list[Ack] = field(default_factory=list)
    abandoned: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    # Ballot POSTs that got no answer or a 503 and no receipt: form nonce -> what happened.
    uncertain: dict[str, str] = field(default_factory=dict)
    # "journeys", "double-clicked ballots", "second forms refused"
    events: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, page: Page, seconds: float) -> None:
        with self._lock:
            self.statuses[page.status] += 1
            self.latencies.append(seconds)
            if page.status < 500:
                return
            clean = page.status == 503 and UNAVAILABLE_TEXT in page.text
            clean = clean and not any(marker in page.text for marker in TRACEBACK_MARKERS)
            if clean:
                self.unavailable += 1
            elif len(self.server_errors) < 50:
                self.server_errors.append(
                    f"{page.method} {page.path} -> {page.status}: {page.text[:1500]}"
                )

    def no_answer(self) -> None:
        with self._lock:
            self.unreachable += 1

    def count(self, event: str) -> None:
        with self._lock:
            self.events[event] += 1

    def acknowledge(self, ack: Ack) -> None:
        with self._lock:
            self.acks.append(ack)

    def abandon(self, reason: str) -> None:
        with self._lock:
            self.abandoned[reason] += 1

    def fail(self, message: str) -> None:
        with self._lock:
            if len(self.failures) < 50:
                self.failures.append(message)

    def unsure(self, nonce: str, reason: str) -> None:
        with self._lock:
            self.uncertain[nonce] = reason

    def requests(self) -> int:
        return sum(self.statuses.values()) + self.unreachable

    def server_error_count(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Browser:
    """One identity: its own cookies (csrftoken, cv_follower, cv_device), plain http;
    `headers` go with every request (X-Forwarded-For, as a proxy in front would add)."""

    def __init__(
        self, port: int, stats: Stats, user_agent: str, headers: dict[str, str] | None = None
    ):
        self.port = port
        self.stats = stats
        self.user_agent = user_agent
        self.headers = headers or {}
        self.cookies: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def post(self, path: str, form: dict) -> Page:
        return self.request("POST", path, form)

    def request(self, method: str, path: str, form: dict | None = None) -> Page:
        headers = {
            **self.headers,
            "User-Agent": self.user_agent,
            "Accept": "text/html",
            "Accept-Language": "zh-CN,zh;q=0.9",
        }
        with self._lock:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://{LOOPBACK}:{self.port}"
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=REQUEST_TIMEOUT)
        started = time.monotonic()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.stats.no_answer()
            raise Unreachable(f"{method} {path}: {error!r}") from error
        finally:
            connection.close()
        self._keep_cookies(response.msg.get_all("Set-Cookie") or [])
        location = urlsplit(response.getheader("Location", "")).path
        page = Page(method, path, response.status, location, content.decode("utf-8", "replace"))
        self.stats.record(page, time.monotonic() - started)
        return page

    def _keep_cookies(self, headers: list[str]) -> None:
        for header in headers:
            jar = SimpleCookie()
            try:
                jar.load(header)
            except CookieError as error:
                raise WrongAnswer(f"unreadable Set-Cookie {header!r}: {error}") from None
            with self._lock:
                for name, morsel in jar.items():
                    if morsel["max-age"] == "0":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.coded_value

    def burst(self, path: str, form: dict, copies: int) -> list[Page | Exception]:
        """The same POST `copies` times: a double click (two at once), then more clicks."""
        outcomes: list[Page | Exception | None] = [None] * copies

        def send(index: int) -> None:
            try:
                outcomes[index] = self.post(path, form)
            except (Unreachable, WrongAnswer) as error:
                outcomes[index] = error

        twin = None
        if copies >= 2:
            twin = threading.Thread(target=send, args=(1,), daemon=True)
            twin.start()
        send(0)
        if twin is not None:
            twin.join(REQUEST_TIMEOUT + 5)
        for index in range(2, copies):
            send(index)
        return [outcome or Unreachable("no answer in time") for outcome in outcomes]


def form_nonce(token: str) -> str:
    """The nonce inside a signed form token (its payload is signed, not encrypted)."""
    payload = token.split(":", 1)[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(data["n"])
    except (ValueError, KeyError, TypeError):
        return token


def expect(page: Page, step: str, *statuses: int) -> Page:
    if page.status == 503:
        raise Unavailable(step)
    if page.status not in statuses:
        raise WrongAnswer(
            f"{step}: {page.method} {page.path} answered {page.status} "
            f"(expected {statuses}): {page.excerpt()}"
        )
    return page


def find(pattern: re.Pattern, page: Page, step: str) -> str:
    match = pattern.search(page.text)
    if match is None:
        raise WrongAnswer(f"{step}: {pattern.pattern!r} not on {page.path}: {page.excerpt()}")
    return match.group(1)


def load(browser: Browser, path: str, step: str, reloads: int) -> Page:
    page = expect(browser.get(path), step, 200)
    for _ in range(reloads):
        page = expect(browser.get(path), f"{step} (reload)", 200)
    return page


def follow_gate(browser: Browser, retrier: bool) -> None:
    """/vote/ shows the gate; open its follow link; confirm (a retrier double-clicks)."""
    reloads = 1 if retrier else 0
    gate = load(browser, "/vote/", "gate", reloads)
    link = find(FOLLOW_LINK, gate, "gate")
    confirm = load(browser, link, "follow page", reloads)
    data = {"csrfmiddlewaretoken": find(CSRF, confirm, "follow page")}
    outcomes = browser.burst(link, data, copies=2 if retrier else 1)
    followed = False
    for outcome in outcomes:
        if isinstance(outcome, WrongAnswer):
            raise outcome
        if isinstance(outcome, Page):
            if outcome.status == 302 and outcome.location == "/vote/" and not followed:
                followed = True
            else:
                # The link works once: another click is told so (410) and changes nothing.
                expect(outcome, "follow (another click)", 410)
    if not followed:
        if any(isinstance(outcome, Page) for outcome in outcomes):
            raise WrongAnswer(f"follow: no click was accepted: {outcomes}")
        raise Unreachable(f"follow: {outcomes[0]}")
    if "cv_follower" not in browser.cookies:
        raise WrongAnswer("follow: 302 to /vote/ without a cv_follower cookie")


def cast(browser: Browser, rng: random.Random, retrier: bool, stats: Stats) -> Ack:
    """One journey: gate, follow, ballot form, reading, ballot, thanks."""
    follow_gate(browser, retrier)
    first_form = expect(browser.get("/vote/"), "ballot form", 200)
    form = first_form
    if retrier:  # a reload: a second form with its own token
        form = expect(browser.get("/vote/"), "ballot form (reload)", 200)
    token = find(FORM_TOKEN, form, "ballot form")
    numbers = CASE_CHOICE.findall(form.text)
    if len(numbers) < 3:
        raise WrongAnswer(f"ballot form offers {len(numbers)} cases: {form.excerpt()}")
    chosen = rng.sample(numbers, rng.choice((2, 3)))
    data = {
        "csrfmiddlewaretoken": find(CSRF, form, "ballot form"),
        "token": token,
        "website": "",
        "cases": chosen,
    }
    time.sleep(DWELL_SECONDS + rng.uniform(0, 0.4))  # reading, as a person would

    copies = rng.choice((2, 3)) if retrier else 1
    outcomes = browser.burst("/vote/", data, copies)
    if copies > 1:
        stats.count("double-clicked ballots")
    receipts: set[str] = set()
    refusals: list[str] = []
    for number, outcome in enumerate(outcomes, start=1):
        if isinstance(outcome, WrongAnswer):
            raise outcome
        if not isinstance(outcome, Page) or outcome.status == 503:
            continue
        thanks = THANKS.match(outcome.location) if outcome.status == 302 else None
        if thanks:
            receipts.add(thanks.group(1))
        else:
            shown = RECEIPT_SHOWN.search(outcome.text)
            refusals.append(
                f"ballot click {number} of {copies} answered {outcome.status}, not 302 to "
                f"the thanks page (page shows receipt {shown and shown.group(1)}): "
                f"{outcome.excerpt(120)}"
            )
    if len(receipts) > 1:
        raise WrongAnswer(f"one form, {copies} clicks, several receipts: {sorted(receipts)}")
    if not receipts:
        if refusals:
            raise WrongAnswer("; ".join(refusals))
        reason = "503" if any(isinstance(o, Page) for o in outcomes) else "no answer"
        stats.unsure(form_nonce(token), reason)
        if reason == "503":
            raise Unavailable("ballot")
        raise Unreachable(f"ballot: {outcomes[0]}")
    receipt = receipts.pop()
    ack = Ack(receipt, frozenset(int(n) for n in chosen), retrier, time.monotonic())
    stats.acknowledge(ack)
    if refusals:  # acknowledged, but a click of the same form was refused
        raise WrongAnswer(f"receipt {receipt}, yet " + "; ".join(refusals))

    thanks = load(browser, f"/vote/thanks/{receipt}/", "thanks", 1 if retrier else 0)
    if receipt not in thanks.text or any(number not in thanks.text for number in chosen):
        raise WrongAnswer(f"thanks page does not show {receipt} {chosen}: {thanks.excerpt()}")
    if retrier:
        # Another tab's form, opened before voting: refused, pointing at the ballot cast.
        other = {**data, "token": find(FORM_TOKEN, first_form, "first ballot form")}
        refused = expect(browser.post("/vote/", other), "second form", 409)
        if "已经投过票" not in refused.text or receipt not in refused.text:
            raise WrongAnswer(f"second form: 409 without the receipt: {refused.excerpt()}")
        stats.count("second forms refused")
    return ack


def first_stylesheet(port: int, stats: Stats) -> None:
    """The pages' hashed stylesheet is served (whitenoise, DEBUG off)."""
    browser = Browser(port, stats, "casevote-load/static")
    path = find(STYLESHEET, expect(browser.get("/"), "home", 200), "home")
    expect(browser.get(path), "stylesheet", 200)


def voter(
    new_browser: Callable[[int, int], "Browser"],
    index: int,
    retrier: bool,
    stats: Stats,
    stop: threading.Event,
    deadline: float,
) -> None:
    """Voter `index`: journey after journey, each in a new browser (`new_browser(index,
    journey)`: a fresh cookie jar), until `stop` or too close to `deadline`."""
    rng = random.Random(index)  # noqa: S311 - not security
    for journey in range(MAX_JOURNEYS_PER_VOTER):
        if stop.is_set() or time.monotonic() + JOURNEY_SECONDS > deadline:
            return
        browser = new_browser(index, journey)
        stats.count("journeys")
        try:
            cast(browser, rng, retrier, stats)
        except (Unavailable, Unreachable) as error:
            stats.abandon(type(error).__name__)
            time.sleep(rng.uniform(*PAUSE_AFTER_FAILURE))
        except WrongAnswer as error:
            stats.fail(f"voter {index}: {error}")
            time.sleep(rng.uniform(*PAUSE_AFTER_FAILURE))
        except Exception as error:  # a voter must not vanish silently
            stats.fail(f"voter {index}: unexpected {error!r}")
            return


class LoadRun:
    """`count` voters in threads, each voting again and again until `seconds` are up
    (or `stop()`); with `retriers`, every other voter double-clicks and reloads."""

    def __init__(self, port: int, count: int, seconds: float, retriers: bool = True):
        self.port = port
        self.count = count
        self.retriers = retriers
        self.seconds = seconds
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.started = 0.0
        self.elapsed = 0.0

    def start(self) -> "LoadRun":
        first_stylesheet(self.port, self.stats)
        self.started = time.monotonic()
        deadline = self.started + self.seconds
        self.threads = [
            threading.Thread(
                target=voter,
                args=(
                    self.new_browser,
                    index,
                    self.retriers and index % 2 == 0,
                    self.stats,
                    self.stop_event,
                    deadline,
                ),
                name=f"voter-{index}",
                daemon=True,
            )
            for index in range(self.count)
        ]
        for thread in self.threads:
            thread.start()
        return self

    def new_browser(self, index: int, journey: int) -> Browser:
        """The browser of voter `index`'s `journey` (a subclass may send other headers)."""
        return Browser(self.port, self.stats, f"casevote-load/1 voter-{index}-{journey}")

    def since_start(self) -> float:
        return time.monotonic() - self.started

    def stop(self) -> None:
        self.stop_event.set()

    def join(self) -> Stats:
        """Wait for every voter (bounded: a journey is a few requests with timeouts)."""
        deadline = self.started + self.seconds + 4 * REQUEST_TIMEOUT
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.elapsed = time.monotonic() - self.started
        alive = [thread.name for thread in self.threads if thread.is_alive()]
        assert not alive, f"voters still running after the bound: {alive}"
        return self.stats


def first_ballot_within(port: int, seconds: float, stats: Stats) -> float | None:
    """A brand-new voter tries the whole journey until it is acknowledged; seconds it took."""
    started = time.monotonic()
    rng = random.Random(7)  # noqa: S311 - not security
    attempt = 0
    while time.monotonic() - started < seconds:
        attempt += 1
        try:
            cast(Browser(port, stats, f"casevote-load/probe-{attempt}"), rng, False, stats)
        except (Unavailable, Unreachable):
            time.sleep(0.5)
            continue
        return time.monotonic() - started
    return None


def summary(stats: Stats, seconds: float) -> str:
    acks = len(stats.acks)
    retriers = sum(1 for ack in stats.acks if ack.retrier)
    requests = stats.requests()
    return (
        f"{acks} ballots acknowledged in {seconds:.1f} s ({acks / seconds:.2f} ballots/s, "
        f"{retriers} of them by double-clicking voters); {requests} requests "
        f"({requests / seconds:.0f} req/s, p50 {stats.percentile(0.5) * 1000:.0f} ms, "
        f"p95 {stats.percentile(0.95) * 1000:.0f} ms, max {stats.percentile(1.0) * 1000:.0f} ms); "
        f"statuses {dict(sorted(stats.statuses.items()))}; no answer {stats.unreachable}; "
        f"abandoned journeys {dict(stats.abandoned)}; {dict(stats.events)}"
    )
