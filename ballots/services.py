"""Casting a ballot: every voting rule, in one function and one transaction.

`cast_ballot` either stores a ballot with its choices or raises `BallotRefused`
(with a message for the voter) having stored nothing. The rule that matters most
under races, one ballot per follower per batch per period, is the database's unique
constraint; the pre-check before it only gives a friendlier message.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format

from ballots import network, storing, tokens
from ballots.errors import (
    DAMAGED_FORM_MESSAGE,
    AlreadyVoted,
    FormRejected,
    InvalidSelection,
    NotFollowing,
    TooManyRequests,
    VotingNotOpen,
)
from ballots.follow import get_backend
from ballots.models import CAMPAIGN_PERIOD, Ballot, Follower, new_receipt_code
from cases.catalogue import Catalogue
from cases.models import Batch, Case, format_number

CASE_NUMBER_PATTERN = re.compile(r"^[0-9]{1,3}$")
USER_AGENT_MAX_LENGTH = 500
BUDGET_WINDOW = timedelta(hours=1)
NOT_FOLLOWING_MESSAGE = "请先关注“民生周刊”公众号，再回来投票。"
UNFOLLOWED_MESSAGE = "您已取消关注“民生周刊”公众号，无法投票。重新关注后请返回本页继续投票。"


@dataclass(frozen=True)
class BallotRequest:
    """What the request tells us besides the choices: evidence and the form's tokens."""

    ip: network.IPAddress | None
    user_agent: str
    device_id: str
    form_token: str
    honeypot: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, form_token: str, honeypot: str) -> "BallotRequest":
        return cls(
            ip=network.client_address(request.META),
            # PostgreSQL cannot store a NUL byte; gunicorn refuses one, other servers may not.
            user_agent=request.META.get("HTTP_USER_AGENT", "").replace("\x00", "")[
                :USER_AGENT_MAX_LENGTH
            ],
            device_id=getattr(request, "device_id", ""),
            form_token=form_token,
            honeypot=honeypot,
        )


@dataclass(frozen=True)
class CastResult:
    ballot: Ballot
    created: bool  # False when a retry of the same form returned the ballot it made


def local_time_display(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "Y年n月j日 H:i")


def voting_period(batch: Batch, now: datetime) -> str:
    """The period one ballot covers: the calendar day in Asia/Shanghai, or the campaign."""
    if batch.frequency == Batch.Frequency.ONCE:
        return CAMPAIGN_PERIOD
    return timezone.localdate(now).isoformat()


def new_ballot(
    *,
    follower_id: int,
    batch: Batch,
    cast_at: datetime,
    form_served_at: datetime,
    form_nonce: str,
    ip: network.IPAddress | None,
    user_agent: str,
    device_id: str,
    receipt: str | None = None,
) -> Ballot:
    """An unsaved ballot with the fields the rules derive: its period, its Beijing day,
    the address's network and subnet, the user agent cut to fit, a receipt code.

    The one place those rules live, so that `cast_ballot` and the vote simulator (which
    writes thousands at once with `bulk_create`) store the same thing. `receipt` is for
    the simulator's reproducible codes; the site leaves it to `new_receipt_code()`."""
    return Ballot(
        follower_id=follower_id,
        batch=batch,
        period=voting_period(batch, cast_at),
        cast_at=cast_at,
        cast_day=timezone.localdate(cast_at),
        form_served_at=form_served_at,
        form_nonce=form_nonce,
        ip_address=str(ip) if ip else None,
        ip_network=network.address_network(ip),
        ip_subnet=network.address_subnet(ip),
        user_agent=user_agent[:USER_AGENT_MAX_LENGTH],
        device_id=device_id,
        receipt=receipt or new_receipt_code(),
    )


def next_vote_at(batch: Batch, now: datetime) -> datetime | None:
    """When this follower may vote again, or None if not in this batch."""
    if batch.frequency == Batch.Frequency.ONCE:
        return None
    today = timezone.localdate(now)
    midnight = timezone.make_aware(datetime.combine(today + timedelta(days=1), datetime.min.time()))
    if batch.voting_closes_at is not None and midnight >= batch.voting_closes_at:
        return None
    return midnight


def already_voted_message(batch: Batch, now: datetime) -> str:
    again = next_vote_at(batch, now)
    if batch.frequency == Batch.Frequency.ONCE:
        return "您已经为本批案例投过票了，本批每人只能投一次。"
    if again is None:
        return "您今天已经投过票了。本批投票将在您下次可投票之前结束，感谢参与。"
    return f"您今天已经投过票了，{local_time_display(again)} 以后可以再投。"


def check_open(batch: Batch, now: datetime) -> None:
    if batch.is_open(now):
        return
    if batch.voting_opens_at is None:
        raise VotingNotOpen("本批案例的投票尚未开放。")
    if now < batch.voting_opens_at:
        raise VotingNotOpen(
            f"投票尚未开始，将于 {local_time_display(batch.voting_opens_at)} 开始。"
        )
    raise VotingNotOpen(f"投票已于 {local_time_display(batch.voting_closes_at)} 结束。")


def check_form(
    request_meta: BallotRequest, follower: Follower, batch: Batch, now: datetime
) -> tokens.FormToken:
    """The form's honeypot, its signed token, and the time the voter spent on it."""
    if request_meta.honeypot:
        raise FormRejected(DAMAGED_FORM_MESSAGE)
    try:
        token = tokens.read_form_token(request_meta.form_token, follower.pk, batch.pk, now)
    except tokens.TokenError as error:
        raise FormRejected(error.message) from None
    if now - token.served_at < timedelta(seconds=settings.CASEVOTE_MIN_DWELL_SECONDS):
        raise FormRejected("提交太快了。请看清所选案例后再提交。")
    return token


def resolve_cases(catalogue: Catalogue, numbers: Sequence[str]) -> list[Case]:
    """The cases named by the submitted numbers, each one checked."""
    batch = catalogue.batch
    chosen: list[Case] = []
    for raw in numbers:
        text = str(raw).strip()
        if not CASE_NUMBER_PATTERN.match(text):
            raise InvalidSelection(f"“{text[:10]}”不是有效的案例编号。")
        number = int(text)
        if any(case.number == number for case in chosen):
            raise InvalidSelection(f"案例 {format_number(number)} 被重复选择了。")
        if not batch.contains_number(number):
            raise InvalidSelection(
                f"案例 {format_number(number)} 不属于本批（{batch.number_range_display}）。"
            )
        case = catalogue.cases.get(number)
        if case is None:
            raise InvalidSelection(f"没有编号为 {format_number(number)} 的案例。")
        if not case.is_votable:
            raise InvalidSelection(f"案例 {case.display_number} 已被取消推选资格，不能投票。")
        chosen.append(case)
    return chosen


def check_choice_count(catalogue: Catalogue, count: int) -> None:
    batch, votable = catalogue.batch, len(catalogue.votable)
    maximum = batch.max_choices_for(votable)
    if count == 0:
        raise InvalidSelection("请至少选择一个案例。")
    if count < batch.min_choices:
        raise InvalidSelection(f"每票至少选择 {batch.min_choices} 个案例，您选了 {count} 个。")
    if count > maximum:
        raise InvalidSelection(f"每票最多选择 {maximum} 个案例，您选了 {count} 个。")


def network_budget(now: datetime) -> storing.Budget:
    """Generous hourly budgets per address and per /24, counted from the ballots table
    so that they hold across worker processes. Villages and carrier NAT share
    addresses, so the defaults are high; over them, the voter is asked to wait."""
    return storing.Budget(
        address=settings.CASEVOTE_IP_HOURLY_BUDGET,
        subnet=settings.CASEVOTE_SUBNET_HOURLY_BUDGET,
        since=now - BUDGET_WINDOW,
    )


def find_existing(follower: Follower, batch: Batch, period: str) -> Ballot | None:
    return Ballot.objects.filter(follower=follower, batch=batch, period=period).first()


def same_form_or_refuse(
    existing: Ballot, token: tokens.FormToken, batch: Batch, now: datetime
) -> "CastResult":
    """A retry of the form that made `existing` gets that ballot back (a double click
    must see its receipt); any other form is a second ballot, and refused."""
    if existing.form_nonce == token.nonce:
        return CastResult(existing, created=False)
    raise AlreadyVoted(already_voted_message(batch, now), existing, next_vote_at(batch, now))


def cast_ballot(
    *,
    follower: Follower | None,
    catalogue: Catalogue,
    cases: Sequence[str],
    request_meta: BallotRequest,
    now: datetime | None = None,
) -> CastResult:
    """Record one ballot for `cases` (three-digit numbers), or raise BallotRefused."""
    now = now or timezone.now()
    batch = catalogue.batch
    check_open(batch, now)
    if follower is None:
        raise NotFollowing(NOT_FOLLOWING_MESSAGE)
    token = check_form(request_meta, follower, batch, now)
    chosen = resolve_cases(catalogue, cases)
    check_choice_count(catalogue, len(chosen))

    period = voting_period(batch, now)
    # After the form and the choices are checked, and outside the transaction: the
    # backend may ask WeChat (a network call must not hold database locks), and only
    # a well-formed ballot is worth the question. It may raise FollowCheckUnavailable.
    if not get_backend().still_following(follower):
        raise NotFollowing(UNFOLLOWED_MESSAGE)
    ballot = new_ballot(
        follower_id=follower.pk,
        batch=batch,
        cast_at=now,
        form_served_at=token.served_at,
        form_nonce=token.nonce,
        ip=request_meta.ip,
        user_agent=request_meta.user_agent,
        device_id=request_meta.device_id,
    )
    try:
        # Atomic, with the ballot's network taking its turn (ballots.storing).
        stored = storing.store_ballot(ballot, chosen, network_budget(now))
    except IntegrityError:
        # A ballot of this follower for this period exists: a retry of the same form
        # (return its ballot) or a second ballot (refuse). Possibly it committed a moment
        # ago in a concurrent request. Nothing of this request was stored.
        existing = stored_before(follower, token, batch, period)
        if existing is None:
            raise
        return same_form_or_refuse(existing, token, batch, now)
    if not stored:
        # Over budget, nothing stored; but "already voted" is the better answer.
        if existing := stored_before(follower, token, batch, period):
            return same_form_or_refuse(existing, token, batch, now)
        raise TooManyRequests("操作太频繁，请稍后再试。")
    return CastResult(ballot, created=True)


def stored_before(
    follower: Follower, token: tokens.FormToken, batch: Batch, period: str
) -> Ballot | None:
    """The ballot this form made, or else this follower's ballot for the period."""
    existing = Ballot.objects.filter(form_nonce=token.nonce, follower=follower).first()
    return existing or find_existing(follower, batch, period)
