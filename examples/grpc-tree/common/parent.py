"""Let a server started by scenarios.py die with it (Linux, best effort).

scenarios.py stops every server by PID in a finally block and at exit; this
covers the one case it cannot: scenarios.py itself being SIGKILLed.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
ENV = "TREE_DIE_WITH_PARENT"  # set to the parent's PID by scenarios.py


def die_with_parent() -> None:
    parent = os.environ.get(ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        # SIGKILL, not SIGTERM: a server the scenario left SIGSTOPped must die too.
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != parent:  # the parent is already gone
        os.kill(os.getpid(), signal.SIGTERM)
