"""The on-disk spool: errors not yet acknowledged by diagd, one file each
(`<nanoseconds>-<event_id>.pb`, the serialized NewLog), so they survive diagd
being down and the process dying. Bounded by total size: when a new error
does not fit, the oldest are dropped first and counted in the `dropped` file.

Any number of processes may share one spool directory (ranks, forked workers,
the next run): files are written under a temporary name and renamed into
place, so a reader never sees half a file; the size limit and the drop count
are kept under an exclusive file lock. Two processes may resend the same file
at once; diagd's event_id de-duplication keeps that harmless."""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import List, Optional

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

SUFFIX = ".pb"
DROPPED_FILE = "dropped"
LOCK_FILE = ".lock"


def default_spool_dir() -> str:
    """$DIAGD_SPOOL_DIR, else ~/.cache/diagd/spool (XDG_CACHE_HOME respected)."""
    if os.environ.get("DIAGD_SPOOL_DIR"):
        return os.environ["DIAGD_SPOOL_DIR"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "diagd", "spool")


@dataclass
class SpooledError:
    """One spooled error: its file and the serialized NewLog."""

    path: str
    event_id: str
    payload: bytes


class Spool:
    """A spool directory limited to `max_bytes` of spooled errors."""

    def __init__(self, directory: Optional[str] = None, max_bytes: int = 64 * 1024 * 1024):
        self.directory = directory or default_spool_dir()
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        os.makedirs(self.directory, exist_ok=True)

    def reset_after_fork(self) -> None:
        self._lock = threading.Lock()

    def _file_lock(self):
        """An exclusive lock shared by every process on this directory (a no-op where
        fcntl is missing); opened per use, so a forked child never inherits it."""
        spool = self

        class _Lock:
            def __enter__(self):
                self.fd = os.open(os.path.join(spool.directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
                if fcntl is not None:
                    fcntl.flock(self.fd, fcntl.LOCK_EX)
                return self

            def __exit__(self, *exc_info):
                os.close(self.fd)  # closing releases the flock

        return _Lock()

    def write(self, event_id: str, payload: bytes, durable: bool = False) -> Optional[str]:
        """Stores one error and answers its path; with `durable`, fsyncs it first (for
        errors the process may die right after). Drops the oldest errors to stay within
        max_bytes; an error larger than max_bytes on its own is not stored (None)."""
        if len(payload) > self.max_bytes:
            self._count_dropped(1)
            return None
        name = f"{time.time_ns():020d}-{event_id}{SUFFIX}"
        final_path = os.path.join(self.directory, name)
        temporary_path = os.path.join(self.directory, f".tmp-{os.getpid()}-{uuid.uuid4().hex}")
        with self._lock, self._file_lock():
            self._make_room(len(payload))
            fd = os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, payload)
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temporary_path, final_path)
        return final_path

    def _make_room(self, incoming: int) -> None:
        files = self._files_with_sizes()
        used = sum(size for _, size in files)
        dropped = 0
        for path, size in files:
            if used + incoming <= self.max_bytes:
                break
            try:
                os.unlink(path)
                dropped += 1
            except FileNotFoundError:
                pass
            used -= size
        if dropped:
            self._add_to_dropped_file(dropped)

    def _files_with_sizes(self):
        result = []
        for name in sorted(os.listdir(self.directory)):
            if name.endswith(SUFFIX):
                path = os.path.join(self.directory, name)
                try:
                    result.append((path, os.path.getsize(path)))
                except FileNotFoundError:
                    pass
        return result

    def _count_dropped(self, count: int) -> None:
        with self._lock, self._file_lock():
            self._add_to_dropped_file(count)

    def _add_to_dropped_file(self, count: int) -> None:
        path = os.path.join(self.directory, DROPPED_FILE)
        with open(path, "a+") as dropped_file:
            dropped_file.seek(0)
            current = int(dropped_file.read().strip() or 0)
            dropped_file.seek(0)
            dropped_file.truncate()
            dropped_file.write(str(current + count))

    @property
    def dropped(self) -> int:
        """How many errors were dropped for space, over the spool's whole life."""
        try:
            with open(os.path.join(self.directory, DROPPED_FILE)) as dropped_file:
                return int(dropped_file.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def pending(self, limit: Optional[int] = None) -> List[SpooledError]:
        """Spooled errors, oldest first (at most `limit`)."""
        errors = []
        for path, _ in self._files_with_sizes():
            if limit is not None and len(errors) >= limit:
                break
            try:
                with open(path, "rb") as spooled_file:
                    payload = spooled_file.read()
            except FileNotFoundError:
                continue  # delivered meanwhile by another process
            event_id = os.path.basename(path)[21 : -len(SUFFIX)]
            errors.append(SpooledError(path, event_id, payload))
        return errors

    def pending_count(self) -> int:
        return len(self._files_with_sizes())

    def remove(self, path: str) -> None:
        """Forgets a delivered error (already gone is fine)."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
