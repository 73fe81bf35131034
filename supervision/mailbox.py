"""The persistent mailbox behind a stable handle, and the per-incarnation inbox view.

One `Mailbox` per child slot lives as long as the tree; incarnations come and go. The current
incarnation consumes it through its `InboxView` (what pykka knows as ``actor_inbox``). When an
incarnation dies the view is detached: everything still queued, and everything sent while the
child is down, stays in the same deque, in order, and the next incarnation's view is attached to
it. Hand-over is therefore O(1) whatever the backlog.

Each view also has a control lane (stop, injected crash) that is read before the mailbox, so a
supervisor's stop is not queued behind a backlog and a stop meant for one incarnation can never
reach the next.

Bounded mailboxes apply the child's `Overflow` policy. Internal supervision messages (subclasses
of `Internal`) bypass the bound and are never dead-lettered.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

import pykka
from pykka._envelope import Envelope

from supervision.errors import ChildStoppedError, MailboxFullError
from supervision.policy import Overflow

log = logging.getLogger(__name__)

DeadLetterFn = Callable[[Any, str], None]


class Internal:
    """Base of supervision-internal messages: exempt from bounds and dead letters."""

    __slots__ = ()


class Control:
    """A control-lane instruction for one incarnation."""

    __slots__ = ("final", "kind")

    STOP = "stop"
    EXIT = "exit"
    CRASH = "crash"
    RETIRED = "retired"

    def __init__(self, kind: str, *, final: bool = False) -> None:
        self.kind = kind
        self.final = final

    def __repr__(self) -> str:
        return f"Control({self.kind}, final={self.final})"


_RETIRED: Envelope[Any] = Envelope(Control(Control.RETIRED))


class _KeyedEnvelope(Envelope[Any]):
    """An envelope that remembers its conflation key (LATEST_WINS mailboxes)."""

    __slots__ = ("key",)

    def __init__(self, message: Any, key: Hashable) -> None:
        super().__init__(message)
        self.key = key


class InboxView:
    """One incarnation's window on the mailbox; implements pykka's ``ActorInbox`` protocol."""

    __slots__ = ("_cond", "_mailbox", "control", "retired", "waiting")

    def __init__(self, mailbox: Mailbox) -> None:
        self._mailbox = mailbox
        self._cond = threading.Condition(mailbox._lock)
        self.control: deque[Envelope[Any]] = deque()
        self.waiting = False
        self.retired = False

    def put(self, envelope: Envelope[Any], /) -> None:
        """pykka's ``ActorRef.tell``/``ask`` land here: the message goes to the child's mailbox."""
        self._mailbox.put(envelope)

    def get(self) -> Envelope[Any]:
        """Next envelope for this incarnation; a RETIRED control once it has been detached."""
        mailbox = self._mailbox
        with mailbox._lock:
            while True:
                if self.control:
                    return self.control.popleft()
                if self.retired:
                    return _RETIRED
                if mailbox._owner is self:
                    queue = mailbox._queue
                    if queue:
                        envelope = queue.popleft()
                        if mailbox._index and type(envelope) is _KeyedEnvelope:
                            mailbox._unindex(envelope)
                        if mailbox._blocked:
                            mailbox._not_full.notify()
                        return envelope
                self.waiting = True
                self._cond.wait()
                self.waiting = False

    def empty(self) -> bool:
        mailbox = self._mailbox
        with mailbox._lock:
            if self.control:
                return False
            return self.retired or mailbox._owner is not self or not mailbox._queue

    def send_control(self, control: Control) -> bool:
        """Queue a control instruction ahead of the mailbox; False if already retired."""
        with self._mailbox._lock:
            if self.retired:
                return False
            self.control.append(Envelope(control))
            if self.waiting:
                self._cond.notify()
            return True


class Mailbox:
    """A FIFO of envelopes that outlives incarnations, with an overflow policy."""

    def __init__(
        self,
        name: str,
        *,
        limit: int | None = None,
        overflow: Overflow = Overflow.BLOCK,
        block_timeout_s: float = 5.0,
        key: Callable[[Any], Hashable | None] | None = None,
        on_dead_letter: DeadLetterFn | None = None,
    ) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._not_full = threading.Condition(self._lock)
        self._queue: deque[Envelope[Any]] = deque()
        self._owner: InboxView | None = None
        self._closed = False
        self._blocked = 0
        self._limit = limit
        self._overflow = overflow
        self._block_timeout_s = block_timeout_s
        self._key = key
        self._index: dict[Hashable, _KeyedEnvelope] = {}
        self._on_dead_letter = on_dead_letter
        self.conflated = 0

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def attached(self) -> bool:
        return self._owner is not None

    # -- senders ---------------------------------------------------------------------------

    def tell(self, message: Any) -> None:
        self.put(Envelope(message))

    def ask_future(self, message: Any) -> pykka.Future[Any]:
        future: pykka.Future[Any] = pykka.ThreadingFuture()
        self.put(Envelope(message, reply_to=future))
        return future

    def put(self, envelope: Envelope[Any]) -> None:
        refusal: str | None = None
        error: Exception | None = None
        dropped: Envelope[Any] | None = None
        with self._lock:
            if self._closed:
                if isinstance(envelope.message, Internal):
                    log.debug("%s: internal message after close: %r", self.name, envelope.message)
                    return
                refusal = "child stopped"
                error = ChildStoppedError(f"{self.name} is permanently stopped")
            else:
                if self._key is not None and envelope.reply_to is None:
                    key = self._key(envelope.message)
                    if key is not None:
                        existing = self._index.get(key)
                        if existing is not None:
                            existing.message = envelope.message
                            self.conflated += 1
                            return
                        envelope = _KeyedEnvelope(envelope.message, key)
                queue = self._queue
                limit = self._limit
                if (
                    limit is not None
                    and len(queue) >= limit
                    and not isinstance(envelope.message, Internal)
                ):
                    refusal, error, dropped = self._make_room(envelope)
                if refusal is None:
                    queue.append(envelope)
                    if type(envelope) is _KeyedEnvelope:
                        self._index[envelope.key] = envelope
                    owner = self._owner
                    if owner is not None and owner.waiting:
                        owner._cond.notify()
        if dropped is not None:
            self._dead_letter(dropped, "overflow: oldest dropped (latest wins)")
        if refusal is not None:
            self._refuse(envelope, refusal, error)

    def _make_room(
        self, envelope: Envelope[Any]
    ) -> tuple[str | None, Exception | None, Envelope[Any] | None]:
        """Lock held and the queue is full: apply the overflow policy."""
        overflow = self._overflow
        limit = self._limit
        assert limit is not None
        if overflow is Overflow.BLOCK:
            self._blocked += 1
            try:
                room = self._not_full.wait_for(
                    lambda: self._closed or len(self._queue) < limit, self._block_timeout_s
                )
            finally:
                self._blocked -= 1
            if self._closed:
                stopped = ChildStoppedError(f"{self.name} is permanently stopped")
                return "child stopped", stopped, None
            if room:
                return None, None, None
            reason = f"mailbox full ({limit}): sender blocked {self._block_timeout_s}s"
            return reason, MailboxFullError(f"{self.name}: {reason}"), None
        if overflow is Overflow.LATEST_WINS:
            for position, queued in enumerate(self._queue):
                if queued.reply_to is None and not isinstance(queued.message, Internal):
                    del self._queue[position]
                    if type(queued) is _KeyedEnvelope:
                        self._unindex(queued)
                    return None, None, queued
        reason = f"mailbox full ({limit}): newest dropped"
        return reason, MailboxFullError(f"{self.name}: {reason}"), None

    def _unindex(self, envelope: _KeyedEnvelope) -> None:
        if self._index.get(envelope.key) is envelope:
            del self._index[envelope.key]

    def _refuse(self, envelope: Envelope[Any], reason: str, error: Exception | None) -> None:
        self._dead_letter(envelope, reason)
        if envelope.reply_to is not None:
            assert error is not None
            envelope.reply_to.set_exception(exc_info=(type(error), error, None))
        elif isinstance(error, MailboxFullError) and self._overflow is Overflow.BLOCK:
            raise error

    def _dead_letter(self, envelope: Envelope[Any], reason: str) -> None:
        if self._on_dead_letter is not None:
            self._on_dead_letter(envelope.message, reason)
        else:
            log.warning("dead letter for %s (%s): %s", self.name, reason, type(envelope.message))

    # -- supervision -----------------------------------------------------------------------

    def new_view(self) -> InboxView:
        return InboxView(self)

    def attach(self, view: InboxView) -> int:
        """Make ``view`` the consumer; returns how many messages are waiting for it."""
        with self._lock:
            if view.retired:
                raise RuntimeError(f"{self.name}: cannot attach a retired view")
            self._owner = view
            if view.waiting:
                view._cond.notify()
            return len(self._queue)

    def detach(
        self, view: InboxView, in_flight: Callable[[], Envelope[Any] | None] | None = None
    ) -> tuple[bool, Envelope[Any] | None]:
        """Retire ``view``: it will never receive another message.

        Returns (first, in_flight): ``first`` is False when the view was already retired;
        ``in_flight`` is what ``in_flight()`` returned, read under the mailbox lock so that it
        cannot race with the incarnation claiming the reply of the message it was handling.
        """
        with self._lock:
            if view.retired:
                return False, None
            view.retired = True
            if self._owner is view:
                self._owner = None
            if view.waiting:
                view._cond.notify()
            return True, (in_flight() if in_flight is not None else None)

    def claim_reply(self, view: InboxView) -> bool:
        """An incarnation finished an ask: may it reply? (No, once it has been retired.)"""
        with self._lock:
            return not view.retired

    def close(self) -> list[Envelope[Any]]:
        """Stop for good: returns the undelivered envelopes; later sends are refused."""
        with self._lock:
            self._closed = True
            drained = list(self._queue)
            self._queue.clear()
            self._index.clear()
            self._not_full.notify_all()
            return drained

    def reopen(self) -> None:
        with self._lock:
            self._closed = False

    def refuse_drained(self, drained: list[Envelope[Any]]) -> None:
        """Dead-letter tells and fail asks taken out by `close`."""
        for envelope in drained:
            if isinstance(envelope.message, Internal):
                continue
            self._refuse(
                envelope, "child stopped", ChildStoppedError(f"{self.name} is permanently stopped")
            )
