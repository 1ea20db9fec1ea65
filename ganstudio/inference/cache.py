"""Keep recently used networks loaded (LRU by count), so a batch loads each checkpoint once."""

import threading
from collections import OrderedDict
from collections.abc import Callable

from ganstudio.inference.loader import LoadedNetwork


class NetworkCache:
    """An LRU of loaded networks keyed by checkpoint sha256."""

    def __init__(self, max_networks: int = 4) -> None:
        self.max_networks = max_networks
        self._networks: OrderedDict[str, LoadedNetwork] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # how many times a checkpoint was read from disk (tests, benchmarks)

    def get(self, key: str, load: Callable[[], LoadedNetwork]) -> LoadedNetwork:
        with self._lock:
            if key in self._networks:
                self._networks.move_to_end(key)
                return self._networks[key]
        network = load()
        with self._lock:
            self.loads += 1
            self._networks[key] = network
            while len(self._networks) > self.max_networks:
                self._networks.popitem(last=False)
        return network
