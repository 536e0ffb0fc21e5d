"""The on-disk spool: errors not yet acknowledged by diagd, one file each
(`<nanoseconds>-<event_id>.pb`, the serialized NewLog), so they survive diagd
being down and the process dying. Bounded by total size: when a new error
does not fit, the oldest are dropped first and counted in the `dropped` file.

Any number of processes may share one spool directory (ranks, forked workers,
the next run): files are written under a temporary name and renamed into
place, so a reader never sees half a file; the size limit and the drop count
are kept under an exclusive lock. Two processes may resend the same file at
once; diagd's event_id de-duplication keeps that harmless.

The lock is a POSIX record lock (fcntl.lockf), which belongs to the process
and is never inherited by a forked child (a flock would be: a child forked
while another thread held it would keep it forever), taken with a bounded
wait: when it cannot be had within LOCK_TIMEOUT the write goes ahead without
it (only the size accounting is then approximate), so a spool write never
blocks its caller indefinitely.

The default directory is per diagd target (`<base>/<hash of the target>`), so
a run against one diagd never sends, or deletes, errors spooled for another.
When no directory can be created (an unwritable HOME), the spool falls back
to the system's temporary directory, and then to memory only (errors then do
not survive the process), with a warning on stderr."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

SUFFIX = ".pb"
DROPPED_FILE = "dropped"
LOCK_FILE = ".lock"
TARGET_FILE = "target"
LOCK_TIMEOUT = 2.0  # seconds a spool operation waits for the lock before going ahead without it


def normalize_target(target: str) -> str:
    """The target as the spool keys it: scheme-less http:// and trailing slashes
    removed (https:// kept: a TLS endpoint is another server)."""
    target = target.strip()
    if target.startswith("http://"):
        target = target[len("http://"):]
    return target.rstrip("/")


def target_key(target: str) -> str:
    """The spool subdirectory name of a diagd target."""
    return hashlib.sha256(normalize_target(target).encode("utf-8")).hexdigest()[:16]


def default_spool_base() -> str:
    """$DIAGD_SPOOL_DIR, else ~/.cache/diagd/spool (XDG_CACHE_HOME respected)."""
    if os.environ.get("DIAGD_SPOOL_DIR"):
        return os.environ["DIAGD_SPOOL_DIR"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "diagd", "spool")


def default_spool_dir(target: Optional[str] = None) -> str:
    """The default spool of `target`: `<default_spool_base()>/<target_key(target)>`
    (the base itself when no target is given)."""
    base = default_spool_base()
    return os.path.join(base, target_key(target)) if target else base


def _fallback_spool_dir(target: Optional[str]) -> str:
    """`<tmp>/diagd-spool-<uid>[/<target key>]`: where the spool goes when its own
    directory cannot be created."""
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    base = os.path.join(tempfile.gettempdir(), f"diagd-spool-{uid}")
    return os.path.join(base, target_key(target)) if target else base


def _warn(text: str) -> None:
    try:
        sys.stderr.write(f"diagd_client: {text}\n")
    except Exception:
        pass


@dataclass
class SpooledError:
    """One spooled error: its file (a name, for a memory-only spool) and the
    serialized NewLog."""

    path: str
    event_id: str
    payload: bytes


class Spool:
    """A spool directory limited to `max_bytes` of spooled errors.

    `directory` None means the default spool of `target` (see default_spool_dir)."""

    def __init__(
        self,
        directory: Optional[str] = None,
        max_bytes: int = 64 * 1024 * 1024,
        target: Optional[str] = None,
    ):
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._memory: Optional[Dict[str, bytes]] = None  # memory-only spool: name → payload
        self._memory_dropped = 0
        candidates = [directory] if directory else [default_spool_dir(target)]
        candidates.append(_fallback_spool_dir(target))
        self.directory = ""
        for candidate in candidates:
            try:
                os.makedirs(candidate, exist_ok=True)
                if not os.access(candidate, os.W_OK | os.X_OK):
                    raise PermissionError(f"{candidate} is not writable")
                self.directory = candidate
                break
            except Exception as error:
                _warn(f"cannot use the spool directory {candidate} ({error})")
        if not self.directory:
            _warn("spooling errors in memory only: they are lost if the process dies before delivering them")
            self._memory = {}
        elif self.directory != candidates[0]:
            _warn(f"spooling errors in {self.directory} instead")
        if target and self.directory:
            self._note_target(target)

    @property
    def in_memory(self) -> bool:
        """True when no directory could be used and errors are kept in memory only."""
        return self._memory is not None

    def _note_target(self, target: str) -> None:
        """Writes the target into the spool directory for people looking at it."""
        path = os.path.join(self.directory, TARGET_FILE)
        try:
            if not os.path.exists(path):
                with open(path, "w") as target_file:
                    target_file.write(normalize_target(target) + "\n")
        except Exception:
            pass

    def reset_after_fork(self) -> None:
        """A fresh thread lock in a forked child (another thread of the parent may
        have held it at the fork). The POSIX file lock is not inherited at all."""
        self._lock = threading.Lock()

    def _ensure_directory(self) -> None:
        """Re-creates the spool directory if it was removed meanwhile."""
        if self._memory is None and not os.path.isdir(self.directory):
            os.makedirs(self.directory, exist_ok=True)

    def _locked(self, timeout: float = LOCK_TIMEOUT):
        """This process's thread lock, then the POSIX lock shared by every process on
        the directory, each waited for at most `timeout` seconds in all; past that the
        block runs without the lock it could not get (never blocks forever)."""
        spool = self

        class _Lock:
            def __enter__(self):
                deadline = time.monotonic() + timeout
                self.thread_locked = spool._lock.acquire(timeout=timeout)
                self.fd = None
                if spool._memory is not None or fcntl is None:
                    return self
                try:
                    spool._ensure_directory()
                    self.fd = os.open(os.path.join(spool.directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
                except OSError:
                    return self
                delay = 0.001
                while True:
                    try:
                        fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        return self
                    except OSError:
                        if time.monotonic() >= deadline:
                            _warn("the spool lock is held too long by another process; going ahead without it")
                            return self
                        time.sleep(delay)
                        delay = min(delay * 2, 0.05)

            def __exit__(self, *exc_info):
                if self.fd is not None:
                    try:
                        os.close(self.fd)  # closing releases this process's lockf lock
                    except OSError:
                        pass
                if self.thread_locked:
                    spool._lock.release()

        return _Lock()

    def write(self, event_id: str, payload: bytes, durable: bool = False) -> Optional[str]:
        """Stores one error and answers its path; with `durable`, fsyncs it first (for
        errors the process may die right after). Drops the oldest errors to stay within
        max_bytes; an error larger than max_bytes on its own is not stored (None)."""
        if len(payload) > self.max_bytes:
            self.count_dropped(1)
            return None
        name = f"{time.time_ns():020d}-{event_id}{SUFFIX}"
        if self._memory is not None:
            with self._locked():
                self._make_room(len(payload))
                self._memory[name] = payload
            return name
        final_path = os.path.join(self.directory, name)
        temporary_path = os.path.join(self.directory, f".tmp-{os.getpid()}-{uuid.uuid4().hex}")
        with self._locked():
            self._make_room(len(payload))
            try:
                fd = os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileNotFoundError:  # the directory was removed meanwhile
                self._ensure_directory()
                fd = os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view):]
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temporary_path, final_path)
        if durable:
            self._fsync_directory()
        return final_path

    def _fsync_directory(self) -> None:
        """Makes the rename itself durable (best effort)."""
        try:
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except Exception:
            pass

    def _make_room(self, incoming: int) -> None:
        files = self._files_with_sizes()
        used = sum(size for _, size in files)
        dropped = 0
        for path, size in files:
            if used + incoming <= self.max_bytes:
                break
            if self._forget(path):
                dropped += 1
            used -= size
        if dropped:
            self._add_to_dropped(dropped)

    def _forget(self, path: str) -> bool:
        if self._memory is not None:
            return self._memory.pop(path, None) is not None
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return False

    def _files_with_sizes(self) -> List[Tuple[str, int]]:
        if self._memory is not None:
            return [(name, len(self._memory[name])) for name in sorted(self._memory)]
        result = []
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return result
        for name in names:
            if name.endswith(SUFFIX):
                path = os.path.join(self.directory, name)
                try:
                    result.append((path, os.path.getsize(path)))
                except FileNotFoundError:
                    pass
        return result

    def count_dropped(self, count: int) -> None:
        """Adds `count` errors that were given up on to the `dropped` count."""
        with self._locked():
            self._add_to_dropped(count)

    _count_dropped = count_dropped

    def _add_to_dropped(self, count: int) -> None:
        if self._memory is not None:
            self._memory_dropped += count
            return
        self._ensure_directory()
        path = os.path.join(self.directory, DROPPED_FILE)
        with open(path, "a+") as dropped_file:
            dropped_file.seek(0)
            try:
                current = int(dropped_file.read().strip() or 0)
            except ValueError:
                current = 0
            dropped_file.seek(0)
            dropped_file.truncate()
            dropped_file.write(str(current + count))

    @property
    def dropped(self) -> int:
        """How many errors were dropped (for space, or too large for diagd to ever
        accept), over the spool's whole life."""
        if self._memory is not None:
            return self._memory_dropped
        try:
            with open(os.path.join(self.directory, DROPPED_FILE)) as dropped_file:
                return int(dropped_file.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def pending(self, limit: Optional[int] = None) -> List[SpooledError]:
        """Spooled errors, oldest first (at most `limit`)."""
        errors = []
        for path, _ in self._files_with_sizes():
            if limit is not None and len(errors) >= limit:
                break
            if self._memory is not None:
                payload = self._memory.get(path)
                if payload is None:
                    continue
            else:
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
        self._forget(path)
