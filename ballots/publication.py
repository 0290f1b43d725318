"""A batch's life on the site, decided by the committee: publish, open and close its
vote, change its rules, archive it. Each is a recorded Decision (who, when, why) and
each can be undone by a new one where that makes sense:

- publish ↔ withdraw (only while the batch has no ballot: ballots are evidence);
- open ↔ close (closing ends the vote now; opening again sets a new window);
- archive ↔ unarchive (an archived batch stays on the site, below the others).

Editors never reach these: they prepare drafts (`load_cases`, the catalogue admin).
Every change is a compare-and-set on a locked batch row, so two members clicking at
once take one decision, and the other is told why nothing happened.
"""

import getpass
import os
from collections.abc import Callable, Mapping
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ballots.models import Ballot, Decision
from ballots.moderation import DecisionRefused, record, require_reason
from cases.models import VOTING_FIELDS, Batch

STATE_FIELDS = ("published_at", "archived_at", "voting_opens_at", "voting_closes_at")


def _window(batch: Batch) -> dict[str, str | None]:
    return {
        "opens": batch.voting_opens_at.isoformat() if batch.voting_opens_at else None,
        "closes": batch.voting_closes_at.isoformat() if batch.voting_closes_at else None,
    }


def _decide(
    batch: Batch,
    kind: str,
    change: Callable[[Batch], dict | None],
    *,
    user,
    reason: str,
    via: str,
) -> Decision:
    """Every batch decision: a reason; the batch as it is now, locked until the
    transaction ends (PostgreSQL), so that two members at once take one decision;
    `change(current)`, which refuses (DecisionRefused) or changes it and returns what
    the record keeps besides; the record; the caller's copy brought up to date."""
    reason = require_reason(reason)
    with transaction.atomic():
        current = Batch.objects.select_for_update().get(pk=batch.pk)
        scope = change(current)
        current.save(update_fields=STATE_FIELDS)
        extra = {} if scope is None else {"scope": scope}
        decision = record(kind, current, user, reason, via=via, **extra)
    for field in STATE_FIELDS:
        setattr(batch, field, getattr(current, field))
    return decision


def _window_change(change: Callable[[Batch], None]) -> Callable[[Batch], dict]:
    """A change of the voting window, recorded with the window before and after."""

    def changed(current: Batch) -> dict:
        before = _window(current)
        change(current)
        return {"before": before, "after": _window(current)}

    return changed


def publish_batch(batch: Batch, *, user, reason: str, via: str = "") -> Decision:
    """The batch and its cases become public; editors can no longer add or move its cases."""

    def publish(current: Batch) -> dict:
        if current.is_published:
            raise DecisionRefused(f"第{current.number}批已经发布。")
        cases = current.cases.count()
        if not cases:
            raise DecisionRefused(f"第{current.number}批还没有案例，不能发布。")
        current.published_at = timezone.now()
        return {"cases": cases, "range": current.number_range_display, **_window(current)}

    return _decide(batch, Decision.Kind.PUBLISH_BATCH, publish, user=user, reason=reason, via=via)


def withdraw_batch(batch: Batch, *, user, reason: str, via: str = "") -> Decision:
    """Back to a draft: only before anyone has voted in it."""

    def withdraw(current: Batch) -> None:
        if not current.is_published:
            raise DecisionRefused(f"第{current.number}批还是草稿，无需撤回。")
        if current.is_archived:
            raise DecisionRefused(f"第{current.number}批已经归档，请先取消归档。")
        if ballots := Ballot.objects.filter(batch=current).count():
            raise DecisionRefused(
                f"第{current.number}批已有 {ballots} 张选票，不能撤回发布（选票是证据）；"
                "可以结束投票或归档。"
            )
        if current.is_open(timezone.now()):
            raise DecisionRefused(f"第{current.number}批正在投票，请先结束投票。")
        current.published_at = None

    return _decide(batch, Decision.Kind.WITHDRAW_BATCH, withdraw, user=user, reason=reason, via=via)


def open_voting(
    batch: Batch, opens_at: datetime, closes_at: datetime, *, user, reason: str, via: str = ""
) -> Decision:
    """Set the voting window of a published batch (open now, or from a later moment)."""
    require_reason(reason)
    if closes_at <= opens_at:
        raise DecisionRefused("截止时间必须晚于开始时间。")
    if closes_at <= timezone.now():
        raise DecisionRefused("截止时间已经过去，请选一个将来的时间。")

    @_window_change
    def open_window(current: Batch) -> None:
        if not current.is_published:
            raise DecisionRefused(
                f"第{current.number}批还是草稿：请先由组委会发布（管理后台“发布批次”，"
                f"或 manage.py publish_batch --batch {current.number}）。"
            )
        if current.is_archived:
            raise DecisionRefused(f"第{current.number}批已经归档，请先取消归档。")
        current.voting_opens_at, current.voting_closes_at = opens_at, closes_at
        try:
            current.full_clean()
        except ValidationError as error:
            raise DecisionRefused("；".join(error.messages)) from None

    return _decide(batch, Decision.Kind.OPEN_VOTING, open_window, user=user, reason=reason, via=via)


def close_voting(batch: Batch, *, user, reason: str, via: str = "") -> Decision:
    """End the vote now; a window that has not started yet is cancelled."""

    @_window_change
    def close_window(current: Batch) -> None:
        now = timezone.now()
        if current.is_open(now):
            current.voting_closes_at = now
        elif current.voting_opens_at and current.voting_opens_at > now:
            current.voting_opens_at = current.voting_closes_at = None
        else:
            raise DecisionRefused(f"第{current.number}批没有正在进行或将要开始的投票。")

    return _decide(
        batch, Decision.Kind.CLOSE_VOTING, close_window, user=user, reason=reason, via=via
    )


def archive_batch(batch: Batch, *, user, reason: str, via: str = "") -> Decision:
    """The batch's vote is over: it stays on the site (cases, results, announcements)
    but is no longer the one the campaign page shows first."""

    def archive(current: Batch) -> None:
        now = timezone.now()
        if not current.is_published:
            raise DecisionRefused(f"第{current.number}批还是草稿，不能归档。")
        if current.is_archived:
            raise DecisionRefused(f"第{current.number}批已经归档。")
        if current.is_open(now) or (current.voting_opens_at and current.voting_opens_at > now):
            raise DecisionRefused(f"第{current.number}批的投票还没有结束，请先结束投票。")
        current.archived_at = now

    return _decide(batch, Decision.Kind.ARCHIVE, archive, user=user, reason=reason, via=via)


def unarchive_batch(batch: Batch, *, user, reason: str, via: str = "") -> Decision:
    def unarchive(current: Batch) -> None:
        if not current.is_archived:
            raise DecisionRefused(f"第{current.number}批没有归档。")
        current.archived_at = None

    return _decide(batch, Decision.Kind.UNARCHIVE, unarchive, user=user, reason=reason, via=via)


def rule_changes(before: Batch, after: Mapping[str, object]) -> dict[str, list[str]]:
    """The voting settings that differ: {field: [old, new]} as text, for the record."""
    return {
        field: [str(getattr(before, field)), str(after[field])]
        for field in VOTING_FIELDS
        if field in after and getattr(before, field) != after[field]
    }


def needs_reason(batch: Batch) -> bool:
    """Changing a batch's voting rules is recorded, with a reason, once it is published."""
    return batch.is_published


def record_rule_change(
    batch: Batch, changes: Mapping[str, list[str]], *, user, reason: str, via: str = ""
) -> Decision:
    """Record the committee's change to a published batch's voting rules (the form that
    made it saves the batch in the same transaction)."""
    reason = require_reason(reason)
    return record(
        Decision.Kind.CHANGE_RULES, batch, user, reason, via=via, scope={"changes": dict(changes)}
    )


def command_maker(command: str) -> str:
    """`Decision.decided_via` for a decision taken with `manage.py COMMAND`: the command
    and the system account that ran it (there is no signed-in member on a server shell)."""
    try:
        account = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (e.g. a bare container)
        account = f"uid {os.getuid()}"
    return f"manage.py {command}（系统账号 {account}）"[:100]
