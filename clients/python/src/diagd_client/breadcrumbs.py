"""A bounded buffer of the process's recent actions (breadcrumbs): fed by
`record_action` and by log records below the shipped level, attached to every
error the process reports. Oldest entries fall out first."""

from __future__ import annotations

import collections
import datetime as _dt
import threading
from typing import Any, Dict, List, Optional

from .scrub import redact, redact_text
from .types import RecentAction


class Breadcrumbs:
    """The last `capacity` actions, thread-safe."""

    def __init__(self, capacity: int = 100):
        self.capacity = capacity
        self._items: "collections.deque[RecentAction]" = collections.deque(maxlen=capacity)
        self._lock = threading.Lock()

    def add(self, action: str, details: Optional[Dict[str, Any]] = None, timestamp: Optional[_dt.datetime] = None) -> RecentAction:
        item = RecentAction(
            action=redact_text(str(action)),
            details=redact(dict(details or {})),
            timestamp=timestamp or _dt.datetime.now(_dt.timezone.utc),
        )
        with self._lock:
            self._items.append(item)
        return item

    def snapshot(self) -> List[RecentAction]:
        """The buffered actions, oldest first."""
        with self._lock:
            return list(self._items)

    def reset_after_fork(self) -> None:
        """A fresh lock for a forked child (the parent's may have been held)."""
        self._lock = threading.Lock()
