"""Whether this machine can hold the run, said before it runs out.

Every check after the trace runs the model again while the eager output is
kept as the reference: a symbolic graph's own run where it is checked while
planning, each trial's refactored run later. So the run needs, on top of
what it holds once the eager run is done, what that eager run took at its
peak beyond its inputs. Where the machine has less available, the kernel
kills the run in the middle of a check (KernelBench level-1
63_conv_standard_2D: 17.5 GB eager peak, 8.5 GB output, on 24 GB): the
user is told before, on stderr, and the run goes on, since the kernel may
still find the memory.

Linux only (/proc); elsewhere nothing is measured and nothing is said.
"""

import sys

_GB = float(1 << 30)


def _proc_bytes(path, field):
    """A `Field:  N kB` line of a /proc file, in bytes."""
    with open(path) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in {path}")


def available_bytes():
    return _proc_bytes("/proc/meminfo", "MemAvailable")


class PeakOfRun:
    """Resident memory before a run and its peak during it:
    `with PeakOfRun() as p: run()`, then p.before, p.peak (bytes), or None
    where /proc cannot say."""

    def __enter__(self):
        self.before = self.peak = None
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM, the peak, to the current resident size
            self.before = _proc_bytes("/proc/self/status", "VmRSS")
        except OSError:
            pass
        return self

    def __exit__(self, *exc):
        if self.before is not None:
            try:
                self.peak = _proc_bytes("/proc/self/status", "VmHWM")
            except OSError:
                self.before = None
        return False


def shortfall(run, available, output_bytes):
    """The one-line warning when the run's peak beyond its start does not
    fit in `available` bytes, else None."""
    if run.before is None or run.peak is None:
        return None
    needed = run.peak - run.before
    if needed <= available:
        return None
    return (f"the model's forward took {needed / _GB:.1f} GB at its peak beyond its inputs and "
            f"{available / _GB:.1f} GB are available: every check runs it again while its output "
            f"({output_bytes / _GB:.1f} GB) is kept, so this run may run out of memory")


def warn_if_short(path, run, output_bytes):
    try:
        available = available_bytes()
    except OSError:
        return None
    message = shortfall(run, available, output_bytes)
    if message:
        print(f"decompose: warning: {path}: {message}", file=sys.stderr, flush=True)
    return message
