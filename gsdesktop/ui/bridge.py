"""The link between blocking library code and the GUI thread.

Two pieces:

* :class:`TaskRunner` runs a blocking callable on an app-owned :class:`QThreadPool` and delivers
  its result *or* its exception to a callback on the GUI thread. Errors are never swallowed: if no
  ``on_error`` is given, the runner's ``unhandled_error`` signal is emitted.
* :class:`EngineBridge` subscribes to a sync engine (any thread) and re-emits each event as a Qt
  signal that is delivered on the GUI thread (queued connection).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

DoneCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class _Carrier(QObject):
    """Signal carrier living on the GUI thread; ``QRunnable`` cannot own signals."""

    finished = Signal(object, object, object)  # (task, result, error)


class _Task(QRunnable):
    def __init__(
        self,
        carrier: _Carrier,
        fn: Callable[[], Any],
        on_done: DoneCallback | None,
        on_error: ErrorCallback | None,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the runner keeps it until the result is delivered
        self.carrier = carrier
        self.fn: Callable[[], Any] | None = fn
        self.on_done = on_done
        self.on_error = on_error

    def run(self) -> None:  # any worker thread
        result: Any = None
        error: BaseException | None = None
        try:
            if self.fn is not None:
                result = self.fn()
        except BaseException as exc:  # delivered to the GUI thread, never swallowed
            error = exc
        self.carrier.finished.emit(self, result, error)

    def release(self) -> None:
        """Drop the callables (and what their closures hold, e.g. a whole listing): the binding may
        keep the runnable object itself alive after it ran."""
        self.fn = self.on_done = self.on_error = None


class TaskRunner(QObject):
    """Runs blocking work off the GUI thread. Create and use on the GUI thread.

    The interpreter settings that keep the GUI thread responsive while workers run (GIL switch interval,
    frozen start-up objects) are made once at app start-up: :func:`gsdesktop.ui.runtime.tune_interpreter`.

    Args:
        max_threads: size of the general pool (listings, metadata, small actions).
        parent: Qt parent.
    """

    unhandled_error = Signal(object)  # BaseException with no on_error callback
    busy_changed = Signal(int)  # number of tasks in flight

    def __init__(self, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._carrier = _Carrier(self)
        self._carrier.finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._inflight: set[_Task] = set()
        self._lock = threading.Lock()

    def run_task(
        self,
        fn: Callable[[], Any],
        on_done: DoneCallback | None = None,
        on_error: ErrorCallback | None = None,
    ) -> None:
        """Run ``fn()`` on the pool; call ``on_done(result)`` or ``on_error(exc)`` on the GUI thread."""
        task = _Task(self._carrier, fn, on_done, on_error)
        with self._lock:
            self._inflight.add(task)
        self.busy_changed.emit(len(self._inflight))
        self.pool.start(task)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    @Slot(object, object, object)
    def _deliver(self, task: _Task, result: Any, error: BaseException | None) -> None:
        with self._lock:
            self._inflight.discard(task)
        on_done, on_error = task.on_done, task.on_error
        task.release()
        self.busy_changed.emit(len(self._inflight))
        try:
            if error is None:
                if on_done is not None:
                    on_done(result)
            elif on_error is not None:
                on_error(error)
            else:
                log.warning("background task failed: %s", error)
                self.unhandled_error.emit(error)
        except Exception as exc:  # a failing callback must not kill the event loop
            log.exception("callback for background task failed")
            self.unhandled_error.emit(exc)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Wait for running tasks (they should have been cancelled); True when all finished."""
        self.pool.clear()
        return bool(self.pool.waitForDone(timeout_ms))


class Publisher(Protocol):
    """What the bridge needs of an engine: ``subscribe(callback) -> unsubscribe`` (called on any thread)."""

    def subscribe(self, callback: Callable[[object], None]) -> Callable[[], None]: ...


class EngineBridge(QObject):
    """Re-emits sync-engine events as Qt signals on the GUI thread.

    The engine calls :meth:`_on_engine_event` from its own threads; the signal emission crosses to
    the GUI thread through a queued connection.
    """

    engine_event = Signal(object)  # any engine event dataclass
    _raw = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._raw.connect(self.engine_event, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, engine: Publisher) -> None:
        """Subscribe to ``engine`` (anything with ``subscribe(cb) -> unsubscribe``)."""
        self.detach()
        self._unsubscribe = engine.subscribe(self._on_engine_event)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            try:
                self._unsubscribe()
            finally:
                self._unsubscribe = None

    def _on_engine_event(self, ev: object) -> None:  # any thread
        try:
            self._raw.emit(ev)
        except RuntimeError:  # the bridge was deleted during shutdown
            pass
