"""Cache rendered page fragments that are expensive and change rarely (the comparison grid)."""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from markupsafe import Markup


class FragmentCache:
    """A small LRU of rendered HTML, keyed by everything the fragment shows.

    Keys carry a revision of the data (counts and latest timestamps), so a change anywhere makes
    a new key; nothing needs invalidating, old entries just age out.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Markup] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> Markup:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
        html = Markup(render())  # noqa: S704 - the output of an autoescaping template
        with self._lock:
            self.misses += 1
            self._entries[key] = html
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return html
