"""deliver_item: create one mailbox copy of a record through Graph, exactly once.

Order of questions: first the record is read and its create request built (once per delivery). A wait
this instance already knows of (Graph paused the mailbox, its window's budget is spent) hands the copy
back at once. Then the claim, one insert of the ledger row as 'creating': has the ledger seen this copy land? (skip) Is another
worker on it right now? (come back later) Only a claimed copy waits for what Graph's limits ask: is a
mailbox slot free (Exchange allows 4 concurrent requests per mailbox)? Is there request budget left in this
window (Exchange: 10,000 per 10 minutes)? (else come back later; a 429's Retry-After pauses the mailbox and
says when) Then one of this instance's Graph permits, and right before the create the claim is confirmed:
taken again, conditionally, if those waits ran its period down, so that no wait ever eats into the time it
guards (a claim that lapsed while its holder still waited would let a second worker create the copy too;
one that another worker took over meanwhile is theirs, and this attempt stops). Did an earlier attempt
possibly create the copy? (ask Graph by the archive id; an attempt that got no answer asks at once, and
nobody creates again until it has settled) Only then create, and mark the ledger delivered.
Throttling hands the message back to the queue with a delay; only from the deliveries queue are
waits of a few seconds (a Retry-After, a settling create) waited out in place. An attempt that ends
without an outcome hands its claim back at once, conditional on the claim still being its own (see
``_attempt``)."""

from __future__ import annotations

import base64
import logging
import time
import uuid
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from typing import Callable, ContextManager

from shared import names
from shared.domain.bounded import for_log
from shared.pipeline.messages import DeliveryMessage, item_key
from shared.pipeline.ports import (ArchiveCopy, CreatedCopy, Mailbox, MailboxError, MailboxPermanent, MailboxThrottled,
                                   PreparedCopy)

log = logging.getLogger(__name__)

MAX_REQUEUES = 200  # throttled hand-backs before a copy counts as failed (days of back-off at worst)
SLOT_BUSY_DELAY = 3.0
UNANSWERED_SETTLE_SECONDS = 5.0  # a create that got no answer (timeout, drop) may still land at Graph meanwhile
_BUDGET_WAIT = "Graph paused the mailbox (a 429's Retry-After) or its request budget for this window is spent"
WAITED_OUT_FROM_THE_QUEUE = 6.0  # seconds of Retry-After or settling the deliveries handler waits out in place


@dataclass(frozen=True)
class Delivered:
    outcome: str  # imported | partial | skipped | failed
    reason: str = ""


@dataclass(frozen=True)
class Requeue:
    after_seconds: float
    reason: str


def deliver_copy(
    message: DeliveryMessage,
    *,
    blobs,
    ledger,
    tracking,
    mailbox: Mailbox,
    slots,
    folder_name: str,
    owner: str | None = None,
    budget=None,
    graph_permit: Callable[[], ContextManager] = nullcontext,
    wait_out: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivered | Requeue:
    """One delivery attempt. A hand-back that asks for a short wait, up to ``wait_out`` seconds in all, is waited
    out here, holding no slot, permit or claim, and tried again, rather than handing the copy to the queue,
    which brings it back only after whole seconds of visibility delay and polling: Graph's pause on the mailbox
    or this copy's own Retry-After (a second or two, usually), the rest of an unanswered create's settling time.
    The deliveries queue's handler waits (its copies are those already handed back once); a first attempt at
    convert does not (0): the item's other copies, and the items behind it, would wait with it."""
    key = item_key(message.item_id)
    owner = owner or uuid.uuid4().hex
    # the record read and its create request built once, before any slot is taken: a slot (one of the mailbox's 4
    # places at Graph) is then held for little more than the Graph requests, and a wait below reads nothing again
    try:
        eml = base64.b64decode(message.eml_b64) if message.eml_b64 else blobs.get(names.MIME, message.mime_blob)
        prepared: PreparedCopy | MailboxPermanent = mailbox.prepare_copy(ArchiveCopy(
            mailbox=message.mailbox, archive_id=message.item_id, eml=eml, item_class=message.item_class))
    except MailboxPermanent as exc:  # a record that cannot be read: refused once the claim shows it did not land
        prepared = exc
    waited = 0.0
    while True:
        result = _attempt(message, key, owner, prepared, ledger=ledger, tracking=tracking, mailbox=mailbox,
                          slots=slots, folder_name=folder_name, budget=budget, graph_permit=graph_permit)
        if not isinstance(result, Requeue) or waited + result.after_seconds > wait_out:
            return result
        sleep(result.after_seconds)
        waited += result.after_seconds


def _attempt(message: DeliveryMessage, key: str, owner: str, prepared: PreparedCopy | MailboxPermanent, *, ledger,
             tracking, mailbox: Mailbox, slots, folder_name: str, budget,
             graph_permit: Callable[[], ContextManager]) -> Delivered | Requeue:
    # the claim first: one insert of the ledger row as 'creating'. A copy already landed, or held by another worker,
    # then takes no slot at all, and the slot is held only for the Graph requests. Whatever is waited for after the
    # claim (a slot, the budget, a permit, a storage outage) does not eat into it: ``confirm`` takes it again right
    # before the create when its period has run down, and finds out when it lapsed and another worker took it over
    if budget is not None and (known_wait := budget.waiting(message.mailbox)) > 0:
        return Requeue(known_wait, _BUDGET_WAIT)  # known here already: no claim taken and handed back for it
    claim = ledger.begin(message.mailbox, key, owner)
    if claim.outcome == "delivered":
        return _already_delivered(message, key, claim, tracking)
    if claim.outcome == "busy":
        return Requeue(max(claim.retry_after, 1.0), "another worker holds this copy")
    if isinstance(prepared, MailboxPermanent):
        return _refused(message, key, prepared, ledger=ledger, tracking=tracking)
    with ExitStack() as held:
        try:
            if not held.enter_context(slots.hold(message.mailbox)):
                _hand_back(message, key, ledger, claim, nothing_created=not claim.uncertain)
                return Requeue(SLOT_BUSY_DELAY, "all concurrency slots of the mailbox are busy")
            # the create (an uncertain earlier attempt adds its look-up below; the folder id is cached)
            wait = budget.take(message.mailbox, 1) if budget is not None else 0.0
            if wait > 0:
                _hand_back(message, key, ledger, claim, nothing_created=not claim.uncertain)
                return Requeue(wait, _BUDGET_WAIT)
            held.enter_context(graph_permit())  # one of this instance's DELIVERY_WORKERS Graph permits
            if budget is not None and (paused := budget.waiting(message.mailbox)) > 0:
                # a sibling's 429 paused the mailbox while this attempt waited for its permit: nothing is sent into it
                _hand_back(message, key, ledger, claim, nothing_created=not claim.uncertain)
                return Requeue(paused, _BUDGET_WAIT)
            confirmed = ledger.confirm(message.mailbox, key, owner, claim)
        except Exception:  # a slot's or the budget's storage, the re-take: nothing was sent to Graph yet
            _hand_back(message, key, ledger, claim, nothing_created=not claim.uncertain)
            raise
        if confirmed is None:  # nothing to hand back: the copy is another worker's now
            return Requeue(1.0, "the claim lapsed while this attempt waited and another worker holds the copy")
        claim = confirmed
        try:
            created = _create_claimed(message, claim, key, prepared, ledger=ledger, tracking=tracking,
                                      mailbox=mailbox, folder_name=folder_name, budget=budget)
        except Exception as exc:
            # The attempt failed without an outcome (5xx, timeout, lost answer, storage hiccup): hand the
            # claim back now so the queue's retry can take it in seconds; the claim period is only for a
            # worker that died. The ledger keeps 'creating', so the retry asks Graph first. A request
            # that got no answer at all has usually landed (asked at once, below); else it may still be
            # running at Graph: for a few seconds the retry may find it but must not create it again.
            unanswered = isinstance(exc, MailboxError) and exc.status is None
            if unanswered and (found := _ask_after_no_answer(message, key, ledger=ledger, tracking=tracking,
                                                             mailbox=mailbox, folder_name=folder_name,
                                                             budget=budget)) is not None:
                return found
            _hand_back(message, key, ledger, claim, settle_seconds=UNANSWERED_SETTLE_SECONDS if unanswered else 0)
            raise
    if not isinstance(created, CreatedCopy):  # found, refused or handed back (with its claim) by _create_claimed
        return created

    outcome = "partial" if (message.partial or created.notes) else "imported"
    ledger.mark_delivered(message.mailbox, key, message_id=created.message_id, outcome=outcome,
                          report_date=message.report_date)
    tracking.copy_outcome(message.report_date, key, message.mailbox, outcome, _partial_reason(message, created.notes))
    return Delivered(outcome)


def _hand_back(message: DeliveryMessage, key: str, ledger, claim, **release) -> None:
    """Give the claim back after an attempt that ended without an outcome (only if the row is still as the claim
    left it); should that write fail too, the claim lapses on its own after DELIVERY_CLAIM_SECONDS, and the
    error that matters is the attempt's."""
    try:
        ledger.release(message.mailbox, key, etag=claim.etag, **release)
    except Exception:  # noqa: BLE001
        log.warning("could not hand back the claim on a copy of %s; it lapses on its own", for_log(message.item_id))


def _already_delivered(message: DeliveryMessage, key: str, claim, tracking) -> Delivered:
    row = claim.row or {}
    if row.get("report_date") == message.report_date:
        # landed earlier in this report day (a redelivered message, a re-pulled window): the day's
        # report keeps counting it as landed once; this attempt itself imported nothing
        tracking.copy_outcome(message.report_date, key, message.mailbox, row.get("outcome", "imported"), "")
        return Delivered("skipped", "already archived earlier this report day")
    reason = f"already archived (report of {row.get('report_date', '?')})"
    tracking.copy_outcome(message.report_date, key, message.mailbox, "skipped", reason)
    return Delivered("skipped", reason)


def _create_claimed(message: DeliveryMessage, claim, key: str, prepared: PreparedCopy, *, ledger, tracking,
                    mailbox: Mailbox, folder_name: str, budget) -> CreatedCopy | Delivered | Requeue:
    """Under a slot and a claim: ask Graph first if an earlier attempt may have created the copy, else create it."""
    if claim.uncertain and budget is not None:
        wait = budget.take(message.mailbox, 1)  # the look-up by archive id
        if wait > 0:
            ledger.release(message.mailbox, key, etag=claim.etag)
            return Requeue(wait, "the mailbox's Graph request budget for this window is spent")
    try:
        folder_id = mailbox.ensure_folder(message.mailbox, folder_name)
        existing = mailbox.find_copy(message.mailbox, folder_id, message.item_id) if claim.uncertain else None
        if existing:
            return _found_existing(message, key, existing, ledger=ledger, tracking=tracking)
        if claim.uncertain and (settling := claim.settling_for()) > 0:  # not found, but it may still land
            ledger.release(message.mailbox, key, etag=claim.etag)
            return Requeue(settling, "a create that got no answer may still land at Graph: asked again before "
                           "creating once it has settled")
        return mailbox.create_copy(message.mailbox, folder_id, prepared)
    except MailboxThrottled as exc:
        if exc.paces_mailbox and budget is not None and getattr(budget, "pause", None):
            # a 429's Retry-After paces every copy of the mailbox (also when the budget's window still has room:
            # Exchange counts on a sliding window of its own); paused first, so no sibling sends into the 429
            budget.pause(message.mailbox, exc.retry_after)
        # a 429 on the only create ever sent for this copy (no earlier attempt left it uncertain) created nothing:
        # the retry creates straight away instead of asking Graph first
        ledger.release(message.mailbox, key, etag=claim.etag, nothing_created=exc.nothing_created and not claim.uncertain)
        if message.requeues >= MAX_REQUEUES:
            reason = f"throttled by Graph {message.requeues} times; redrive later ({exc})"
            ledger.mark_failed(message.mailbox, key, reason)
            tracking.copy_outcome(message.report_date, key, message.mailbox, "failed", reason, stage="deliver")
            return Delivered("failed", reason)
        return Requeue(max(exc.retry_after, 1.0), f"throttled ({exc.code or exc.status})")
    except MailboxPermanent as exc:
        return _refused(message, key, exc, ledger=ledger, tracking=tracking)
    # MailboxTransient and anything else propagate: deliver_copy hands the claim back, the queue
    # retries; the ledger says 'creating', so the next attempt asks Graph before creating again.


def _refused(message: DeliveryMessage, key: str, exc: MailboxPermanent, *, ledger, tracking) -> Delivered:
    reason = f"Graph refused the copy: {exc}"
    ledger.mark_failed(message.mailbox, key, reason)
    tracking.copy_outcome(message.report_date, key, message.mailbox, "failed", reason, stage="deliver")
    log.warning("copy of %s for a mailbox failed permanently: %s", for_log(message.item_id), for_log(exc.code))
    return Delivered("failed", reason)


def _found_existing(message: DeliveryMessage, key: str, existing: str, *, ledger, tracking) -> Delivered:
    outcome = "partial" if message.partial else "imported"
    ledger.mark_delivered(message.mailbox, key, message_id=existing, outcome=outcome,
                          report_date=message.report_date, found_existing=True)
    tracking.copy_outcome(message.report_date, key, message.mailbox, outcome, _partial_reason(message, []))
    return Delivered(outcome)


def _ask_after_no_answer(message: DeliveryMessage, key: str, *, ledger, tracking, mailbox: Mailbox, folder_name: str,
                         budget) -> Delivered | None:
    """A create that got no answer has usually landed (its answer was lost on the way back): ask Graph once, at
    once, still under the slot and the claim. Found: the copy is delivered, in this attempt, seconds sooner.
    Not found (it may still be running at Graph) or the question failed: None; the claim is handed back with
    the settling time on the row, and a retry asks again and creates only once that has passed. Only a found
    copy is acted on here."""
    if budget is not None and budget.take(message.mailbox, 1) > 0:
        return None
    try:
        existing = mailbox.find_copy(message.mailbox, mailbox.ensure_folder(message.mailbox, folder_name),
                                     message.item_id)
    except Exception:  # noqa: BLE001 - the settle and the retry's own question cover it
        return None
    return _found_existing(message, key, existing, ledger=ledger, tracking=tracking) if existing else None


def _partial_reason(message: DeliveryMessage, notes: list[str]) -> str:
    parts = list(notes)
    if message.partial:
        parts.insert(0, "the record names attachments it could not embed (too large or unavailable); originals in storage")
    return "; ".join(parts)


def record_failure(message: DeliveryMessage, *, tracking, reason: str, final: bool) -> None:
    """Called by the queue wrapper on an exception: keep the last error; a final one counts as failed."""
    key = item_key(message.item_id)
    tracking.copy_outcome(message.report_date, key, message.mailbox, "failed" if final else "pending",
                          reason[:1000], stage="deliver")

