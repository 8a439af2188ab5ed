"""Append-only JSON-lines files shared by several processes (stats, arena outcomes).

What a caller may rely on: :func:`append_line` is one ``O_APPEND`` write of a whole
line under :func:`locked`, so lines from several Neovims and ``hexai`` commands never
interleave; it raises ``OSError`` and leaves reporting to the caller.
:class:`LineFile` is that reporting, once for both stores: a failed append is logged
once per file and returns False, and reading never raises (damaged bytes become
U+FFFD, so such a line fails to parse and its reader skips it).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX only; elsewhere appends are unlocked (still one write each).
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock``, a file that is never replaced.

    The data file itself may be replaced (the stats prune does), so locking it would
    let an append wait on an inode that is already gone.
    """
    if fcntl is None:
        yield
        return
    fd = os.open(f"{path}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def append_line(path: Path, line: str) -> None:
    """Append ``line`` (ending in a newline) to ``path``, creating it (mode 0600) and its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line)


class LineFile:
    """One user's JSON-lines file, named ``what`` in the messages sent to ``log``.

    Cheap to create; the file is opened per call.
    """

    def __init__(self, path: str | os.PathLike[str], what: str, log: logging.Logger) -> None:
        self.path = Path(path)
        self._what = what
        self._log = log
        self._warned = False

    def append(self, line: str) -> bool:
        """Append ``line`` (ending in a newline); False when it could not be written."""
        try:
            append_line(self.path, line)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                self._log.warning("cannot write %s to %s: %s", self._what, self.path, exc)
            return False
        return True

    def lines(self) -> list[str]:
        """Every line of the file ([] when there is none or it cannot be read)."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                return handle.readlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            self._log.warning("cannot read %s %s: %s", self._what, self.path, exc)
            return []
