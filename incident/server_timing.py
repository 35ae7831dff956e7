"""Where one request's time went, step by step, for a `Server-Timing` response header (W3C Server
Timing: `name;dur=milliseconds`, which browsers' developer tools and the benchmarks read)."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Steps:
    """Wall time of named steps, in the order they first ran; a step timed twice adds up."""

    def __init__(self, *names: str) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(names, 0.0)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def header(self) -> str:
        """The value of a Server-Timing header: `parse;dur=412.3, lookup;dur=20.1, …` (ms)."""
        return ", ".join(f"{name};dur={1000 * seconds:.1f}" for name, seconds in self.seconds.items())


def parse_header(value: str) -> dict[str, float]:
    """{name: milliseconds} from a Server-Timing header (the parts this module writes)."""
    found = {}
    for metric in value.split(","):
        name, *params = [part.strip() for part in metric.split(";")]
        for param in params:
            key, _, number = param.partition("=")
            if key == "dur" and name:
                found[name] = float(number)
    return found
