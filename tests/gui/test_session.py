"""The app's start-up and its session controller: interpreter tuning in one place, the session the app and
its dialogs share (account, preferences, sync pair, engine restarts, sign-out, quit)."""

from __future__ import annotations

import gc
import sys

from gsdesktop.ui.bridge import TaskRunner


def test_a_task_runner_leaves_the_interpreter_alone_start_up_tunes_it(qtbot) -> None:  # type: ignore[no-untyped-def]
    """Creating a TaskRunner (a dialog's, a model's) changes no process-wide setting; the app's start-up
    (runtime.tune_interpreter, called by ensure_qapp) sets the GIL switch interval and freezes what exists."""
    from gsdesktop.ui import runtime

    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    try:
        runner = TaskRunner(1)
        runner.deleteLater()
        assert sys.getswitchinterval() == 0.005
        runtime.tune_interpreter()
        assert sys.getswitchinterval() == 0.001
        assert gc.get_freeze_count() > 0
    finally:
        sys.setswitchinterval(before)
