"""Child processes that do not outlive the developer tool that started them.

A tool that is stopped politely (Ctrl-C, SIGTERM, SIGHUP) stops its broker, database and
services in its clean-up code. A tool that is killed (SIGKILL, the OOM killer) runs no code
at all: for that case Linux's ``PR_SET_PDEATHSIG`` asks the kernel to send the child a signal
when its parent dies. The setting survives ``exec`` but belongs to the *thread* that forked, so
it is only set for children started from the main thread (a worker thread ends long before
the tool does).
"""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def _set_parent_death_signal(sig: int) -> None:  # pragma: no cover - runs in the child
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, sig)


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child receives ``sig`` when we die.

    None where that cannot be promised (not Linux, or not called from the main thread).
    ``Popen`` runs ``preexec_fn`` after switching to ``user=`` / ``group=``, so the setting
    survives the change of credentials (which would otherwise clear it).
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None

    def preexec() -> None:  # pragma: no cover - runs in the child
        _set_parent_death_signal(sig)

    return preexec
