"""What every console child gets between fork and exec, whoever starts it.

A program on a console must behave as on a fresh terminal: Ctrl-C interrupts it even when
vncterm itself was started with SIGINT ignored (``nohup``, ``cmd &`` in a non-interactive sh,
some service managers) or with signals blocked. Ignored dispositions and the signal mask survive
exec (POSIX ``execve``: handled signals are reset, ignored ones stay ignored, the mask is kept),
so each is put back to its default here.
"""

from __future__ import annotations

import signal


def reset_signals() -> None:
    """Every signal to its default disposition and an empty signal mask (runs in the child,
    after fork, before exec; async-signal-safe enough: no locks, no allocation of note)."""
    for signum in signal.valid_signals():
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):  # SIGKILL, SIGSTOP, real-time oddities
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
