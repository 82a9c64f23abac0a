"""Which thread is waiting on the SQLite write lock, and in what: a test's x-ray.

Owns :func:`waiting_on_the_lock`, which looks at every thread's Python stack for one
that is inside a given brb function and, innermost, in the store's write
``transaction`` (where SQLite's busy wait happens). Tests use it to prove that some
work reached the lock, and on which thread (never the event loop's), before they
check that the loop still answers.
"""

from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path


def waiting_on_the_lock(module_file: str, function: str) -> threading.Thread | None:
    """The thread running ``function`` (of the file named ``module_file``) whose
    innermost frame is the store's write transaction, if any."""
    threads = {t.ident: t for t in threading.enumerate()}
    for ident, frame in sys._current_frames().items():  # noqa: SLF001 - the x-ray
        stack = [(Path(f.filename).name, f.name) for f in traceback.extract_stack(frame)]
        if (module_file, function) in stack and stack[-1] == ("store_file.py", "transaction"):
            return threads.get(ident)
    return None
