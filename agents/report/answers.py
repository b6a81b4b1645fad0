"""The report API's recent answers, bounded by their bytes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["AnswerCache"]

# What one entry costs besides its key and body: the tuple, the dict slot, the objects'
# headers (measured with sys.getsizeof, rounded up).
_ENTRY_OVERHEAD = 200


class AnswerCache:
    """Answers by request (path and query), each with the version of the data it was
    computed from; the least recently used go first once the answers held exceed
    `max_bytes`. An answer larger than `max_bytes // 8` is not kept: a few of them would
    push out everything else, and a client asking for many such pages (or for one page
    under many distinct query strings) is not one that asking again would help."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._answers: OrderedDict[str, tuple[Hashable, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, request: str, version: Hashable) -> bytes | None:
        """The answer to `request` computed at `version`, or None."""
        hit = self._answers.get(request)
        if hit is None or hit[0] != version:
            return None
        self._answers.move_to_end(request)
        return hit[1]

    def put(self, request: str, version: Hashable, body: bytes) -> None:
        size = _size(request, body)
        if size > self.max_bytes // 8:
            return
        self._drop(request)
        self._answers[request] = (version, body)
        self.bytes += size
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._answers)))

    def _drop(self, request: str) -> None:
        old = self._answers.pop(request, None)
        if old is not None:
            self.bytes -= _size(request, old[1])


def _size(request: str, body: bytes) -> int:
    return len(request) + len(body) + _ENTRY_OVERHEAD
