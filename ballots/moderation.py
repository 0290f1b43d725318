"""The committee's decisions: each one a recorded, append-only Decision.

Nothing is deleted. Voiding marks ballots (compare-and-set: only ballots that are
still valid change, and the decision links exactly those); restoring is a new
decision. Disqualifying a case changes its status and publishes an announcement;
the case's ballots stay valid, so honest votes for other cases still count.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ballots.models import Announcement, Ballot, Decision, DecisionBallot
from cases.models import Batch, Case
from casevote.errors import Refusal

REASON_MIN_LENGTH = 4


class DecisionRefused(Refusal):
    """The committee's decision cannot be taken as asked; nothing was changed."""


@dataclass(frozen=True)
class Outcome:
    decision: Decision | None
    changed: int
    unchanged: int


def require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN_LENGTH:
        raise DecisionRefused(f"请写明理由（至少 {REASON_MIN_LENGTH} 个字）。")
    return reason


def record(kind: str, batch: Batch, user, reason: str, *, via: str = "", **fields) -> Decision:
    """Write the decision: by a committee member (`user`), or, from a management
    command, by no user and `via` naming the command and the system account."""
    return Decision.objects.create(
        kind=kind,
        batch=batch,
        reason=reason,
        decided_by=user,
        decided_via=via,
        decided_at=timezone.now(),
        **fields,
    )


def _change_ballots(ballots: QuerySet, kind: str, *, user, reason: str, **details) -> Outcome:
    """Compare-and-set the still-changeable ballots of `ballots` (void: valid ones;
    restore: void ones), record one decision linking exactly those. `details`: the
    decision's public_reason, scope and evidence, as `void_ballots` takes them."""
    from_status, to_status = BALLOT_TRANSITIONS[kind]
    public_reason = details.get("public_reason", "")
    reason = require_reason(reason)
    batches = set(ballots.values_list("batch_id", flat=True).distinct())
    if not batches:
        raise DecisionRefused("没有选中任何选票。")
    if len(batches) > 1:
        raise DecisionRefused("一次决定只能涉及同一批次的选票。")
    evidence = details.get("evidence") or {}
    with transaction.atomic():
        ids = list(
            ballots.filter(status=from_status).select_for_update().values_list("pk", flat=True)
        )
        requested = ballots.count()
        if not ids:
            return Outcome(None, 0, requested)
        changed = Ballot.objects.filter(pk__in=ids, status=from_status).update(
            status=to_status, void_reason_public=public_reason
        )
        decision = record(
            kind,
            Batch.objects.get(pk=batches.pop()),
            user,
            reason,
            public_reason=public_reason,
            scope={**(details.get("scope") or {}), "ballots": changed},
            evidence=evidence,
            detector_version=str(evidence.get("detector_version", "")),
        )
        DecisionBallot.objects.bulk_create(
            DecisionBallot(decision=decision, ballot_id=pk) for pk in ids
        )
    return Outcome(decision, changed, requested - changed)


BALLOT_TRANSITIONS = {  # kind: (from status, to status)
    Decision.Kind.VOID: (Ballot.Status.VALID, Ballot.Status.VOID),
    Decision.Kind.RESTORE: (Ballot.Status.VOID, Ballot.Status.VALID),
}


def void_ballots(
    ballots: QuerySet,
    *,
    user,
    reason: str,
    public_reason: str = "",
    scope: dict | None = None,
    evidence: dict | None = None,
) -> Outcome:
    """Void the still-valid ballots of `ballots`; tallies stop counting them. The public
    reason shows on their receipts; `evidence` is the detector's report, if any."""
    public_reason = (public_reason or "").strip() or "经组委会核查认定为刷票"
    return _change_ballots(
        ballots, Decision.Kind.VOID, user=user, reason=reason, public_reason=public_reason,
        scope=scope, evidence=evidence,
    )  # fmt: skip


def restore_ballots(ballots: QuerySet, *, user, reason: str, scope: dict | None = None) -> Outcome:
    """Undo a void: a new decision; the voided ballots count again."""
    return _change_ballots(ballots, Decision.Kind.RESTORE, user=user, reason=reason, scope=scope)


def _announce(decision: Decision, case: Case, title: str, body: str) -> Announcement:
    title, body = (title or "").strip(), (body or "").strip()
    if not title or not body:
        raise DecisionRefused("请填写公告的标题和正文。")
    return Announcement.objects.create(
        batch=case.batch,
        case=case,
        decision=decision,
        title=title[:100],
        body=body,
        published_at=decision.decided_at,
    )


@dataclass(frozen=True)
class CaseTransition:
    """A decision that moves a case from one of `allowed_from` to `to_status`."""

    kind: str
    allowed_from: tuple[str, ...]
    to_status: str


_CANDIDATE, _SELECTED, _DISQUALIFIED = (
    Case.Status.CANDIDATE,
    Case.Status.SELECTED,
    Case.Status.DISQUALIFIED,
)
DISQUALIFY = CaseTransition(Decision.Kind.DISQUALIFY, (_CANDIDATE, _SELECTED), _DISQUALIFIED)
REINSTATE = CaseTransition(Decision.Kind.REINSTATE, (_DISQUALIFIED,), _CANDIDATE)
SELECT = CaseTransition(Decision.Kind.SELECT, (_CANDIDATE,), _SELECTED)
UNSELECT = CaseTransition(Decision.Kind.UNSELECT, (_SELECTED,), _CANDIDATE)
REFUSALS = {  # when the case is in none of the statuses a transition starts from
    Decision.Kind.DISQUALIFY: "案例 {case.display_number} 已经被取消推选资格。",
    Decision.Kind.REINSTATE: "案例 {case.display_number} 没有被取消资格，无需恢复。",
    Decision.Kind.SELECT: "案例 {case.display_number} 不是候选状态（已入选或已取消资格），不能确定入选。",
    Decision.Kind.UNSELECT: "案例 {case.display_number} 没有入选，无需撤销。",
}


def _move_case(
    case: Case,
    transition: CaseTransition,
    *,
    user,
    reason: str,
    announcement: tuple[str, str] | None = None,
) -> Decision:
    """Compare-and-set the case's status, record the decision (and its announcement)."""
    reason = require_reason(reason)
    with transaction.atomic():
        changed = Case.objects.filter(pk=case.pk, status__in=transition.allowed_from).update(
            status=transition.to_status, updated_at=timezone.now()
        )
        if changed != 1:
            raise DecisionRefused(REFUSALS[transition.kind].format(case=case))
        decision = record(transition.kind, case.batch, user, reason, case=case)
        if announcement is not None:
            _announce(decision, case, *announcement)
    case.status = transition.to_status
    return decision


def _refuse_after_selected_list(batch: Batch) -> None:
    if batch.selected_published_at is not None:
        raise DecisionRefused("入选名单已经公布，不能再修改。")


def disqualify_case(case: Case, *, user, reason: str, title: str, body: str) -> Decision:
    """取消推选资格, with a public announcement. Its ballots are kept and stay valid."""
    return _move_case(case, DISQUALIFY, user=user, reason=reason, announcement=(title, body))


def reinstate_case(case: Case, *, user, reason: str, title: str, body: str) -> Decision:
    return _move_case(case, REINSTATE, user=user, reason=reason, announcement=(title, body))


def select_case(case: Case, *, user, reason: str) -> Decision:
    """入选: the committee's decision after combining the vote with expert review."""
    _refuse_after_selected_list(case.batch)
    return _move_case(case, SELECT, user=user, reason=reason)


def unselect_case(case: Case, *, user, reason: str) -> Decision:
    _refuse_after_selected_list(case.batch)
    return _move_case(case, UNSELECT, user=user, reason=reason)


def _publish(batch: Batch, field: str, kind: str, *, user, reason: str, refusal: str) -> Decision:
    reason = require_reason(reason)
    now = timezone.now()
    with transaction.atomic():
        changed = Batch.objects.filter(pk=batch.pk, **{f"{field}__isnull": True}).update(
            **{field: now}
        )
        if changed != 1:
            raise DecisionRefused(refusal)
        decision = record(kind, batch, user, reason)
    setattr(batch, field, now)
    return decision


def publish_results(batch: Batch, *, user, reason: str) -> Decision:
    return _publish(
        batch,
        "results_published_at",
        Decision.Kind.PUBLISH_RESULTS,
        user=user,
        reason=reason,
        refusal=f"第{batch.number}批的投票结果已经公布过了。",
    )


def publish_selected(batch: Batch, *, user, reason: str) -> Decision:
    if not batch.cases.filter(status=Case.Status.SELECTED).exists():
        raise DecisionRefused(f"第{batch.number}批还没有确定入选的案例。")
    return _publish(
        batch,
        "selected_published_at",
        Decision.Kind.PUBLISH_SELECTED,
        user=user,
        reason=reason,
        refusal=f"第{batch.number}批的入选名单已经公布过了。",
    )
