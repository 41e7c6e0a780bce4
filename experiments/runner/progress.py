"""Progress of an experiment on stderr: points done / total, elapsed time and
an estimate of the time left."""

import sys
import time


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """Counts finished points. On a terminal the line is redrawn in place;
    otherwise (a log file, a test) one line is printed at most every
    `every` seconds and at the end."""

    def __init__(self, name: str, total: int, skipped: int, stream=sys.stderr, every=5.0):
        self.name = name
        self.total = total
        self.skipped = skipped
        self.done = 0
        self.failed = 0
        self.stream = stream
        self.every = every
        self.tty = stream.isatty()
        self.start = time.monotonic()
        self.last_print = -every

    def line(self) -> str:
        """The progress line as it stands."""
        elapsed = time.monotonic() - self.start
        text = (f"[{self.name}] {self.done}/{self.total} points"
                f"{f' ({self.failed} failed)' if self.failed else ''}, elapsed {_clock(elapsed)}")
        if 0 < self.done < self.total:
            left = elapsed / self.done * (self.total - self.done)
            text += f", ~{_clock(left)} left"
        return text

    def begin(self) -> None:
        """Says what will run and what was already done."""
        print(f"[{self.name}] {self.total} points to run, {self.skipped} already in the results file",
              file=self.stream, flush=True)

    def step(self, ok: bool) -> None:
        """Records one finished point and shows the line when due."""
        self.done += 1
        self.failed += 0 if ok else 1
        now = time.monotonic()
        if self.tty:
            print(f"\r{self.line()}\033[K", end="", file=self.stream, flush=True)
        elif now - self.last_print >= self.every or self.done == self.total:
            print(self.line(), file=self.stream, flush=True)
            self.last_print = now

    def end(self) -> None:
        """Finishes the line on a terminal."""
        if self.tty and self.done:
            print(file=self.stream, flush=True)
