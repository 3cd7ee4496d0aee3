# What the logs of torture.sh say must hold after a remount: the remaps the
# control files acknowledged, and the sectors the writers acknowledged.
# torture_verify.py compares the mount with it.
#
# The storm log (written by torture_storm.sh) has one line per event:
#   R ROUND T          a round started (writers and storm running)
#   K ROUND T          the daemon was killed (faults vanish: memory only)
#   B T FILE TEXT      `echo TEXT > control/FILE` begins
#   E T RC ERRNO       ... and ended: RC 0 is an acknowledgement
# T is CLOCK_REALTIME in ns. A B with no E, or an E with ENOTCONN,
# ECONNABORTED or ENOENT (the dead mount was cleared before its open), was
# cut by the kill: it may or may not have happened.
import re

# Narrowing stops at MAIN's I/O unit: with O_DIRECT a fault on one sector
# remaps (a write) or makes pending (a read) its whole 4 KiB block.
UNIT_SECTORS = 8
GONE = ("ENOTCONN", "ECONNABORTED", "ENOENT")
# Refusals that change nothing (SPEC: a control write is applied whole or
# not at all): add_bad with the spare too small; remove whose copy back hits
# an injected write fault; scrub start while a scan runs.
REFUSALS = {"add_bad": ("ENOSPC",), "remove": ("EIO",), "scrub": ("EBUSY",),
            "inject": ()}


def parse_sectors(text):
    """The sectors of a control-file list (SPEC grammar)."""
    out = []
    for tok in re.split(r"[\s,]+", text.split("#")[0].strip()):
        if not tok:
            continue
        if "+" in tok:
            a, c = tok.split("+")
            a = int(a, 0)
            out.extend(range(a, a + int(c, 0)))
        elif "-" in tok:
            a, b = tok.split("-")
            out.extend(range(int(a, 0), int(b, 0) + 1))
        else:
            out.append(int(tok, 0))
    return out


def units(sectors):
    return {u for s in sectors
            for u in range(s // UNIT_SECTORS * UNIT_SECTORS,
                           s // UNIT_SECTORS * UNIT_SECTORS + UNIT_SECTORS)}


class Model:
    def __init__(self):
        self.state = {}         # sector -> "add" | "remove": last acknowledged op
        self.may_add = set()    # removed sectors something may have remapped since
        self.may_remove = set()  # added sectors a cut remove may have returned
        self.faults = {}        # sector -> (kind, t_start) of the active faults
        self.read_faults = {}   # sector -> [(t_start, t_end)] of read or rw faults
        # cut: the kill landed during the control write
        self.counts = {"acked": 0, "refused": 0, "cut": 0, "rounds": 0}
        self.unexpected = []    # control writes that failed as they never may

    def load(self, path):
        with open(path) as f:
            lines = [line.rstrip("\n").split(" ", 1) for line in f]
        # torture.sh appends K once the round's storm has ended, so a
        # round's kill time is known only after its control writes.
        kills = {int(rest.split()[0]): int(rest.split()[1])
                 for kind, rest in lines if kind == "K"}
        t_kill, begin = None, None
        for kind, rest in lines:
            if kind == "R":
                self.counts["rounds"] += 1
                t_kill = kills.get(int(rest.split()[0]))
            elif kind == "K":
                if begin is not None:  # never ended: cut by the kill
                    self.settle(begin, "cut", t_kill, t_kill)
                    begin = None
                self.end_faults(t_kill)
            elif kind == "B":
                t, file, text = (rest.split(" ", 2) + [""])[:3]
                begin = (int(t), file, text)
            elif kind == "E":
                t_end, rc, err = rest.split()
                self.settle(begin, self.outcome(begin[1], rc, err), t_kill, int(t_end))
                begin = None

    def settle(self, begin, outcome, t_kill, t_end):
        """Applies one control write, unless it began after the kill: the
        daemon was gone, so it did nothing."""
        if t_kill is not None and begin[0] > t_kill:
            return
        self.apply(begin, outcome, t_end)

    def outcome(self, file, rc, err):
        if rc == "0":
            return "acked"
        if err in GONE:
            return "cut"
        if err in REFUSALS.get(file, ()):
            return "refused"
        return "unexpected"

    def apply(self, begin, outcome, t_end):
        t, file, text = begin
        self.counts[outcome if outcome != "unexpected" else "refused"] += 1
        if outcome == "unexpected":
            self.unexpected.append(f"{file} '{text}'")
        if outcome == "refused" or file == "scrub":
            return  # scrub changes only faulted sectors: see the faults
        if file == "inject":
            self.inject(t, t_end, text)
            return
        faulted = units(self.faults)
        for s in parse_sectors(text):
            if outcome == "cut":
                (self.may_add if file == "add_bad" else self.may_remove).add(s)
            elif file == "add_bad":
                self.state[s] = "add"
                self.may_remove.discard(s)
            else:
                self.state[s] = "remove"
                self.may_add.discard(s)
                if s in faulted:
                    self.may_add.add(s)

    def inject(self, t, t_end, text):
        """A fault is active from the start of its inject to the end of
        its clear."""
        word, _, arg = text.partition(" ")
        if word == "clear":
            gone = list(self.faults) if arg.strip() == "all" else parse_sectors(arg)
            for s in gone:
                self.end_fault(s, t_end)
        elif word in ("read", "write", "rw"):
            sectors = parse_sectors(arg)
            for s in sectors:
                self.end_fault(s, t)
                self.faults[s] = (word, t)
            # A fault may remap its unit: an auto-remap, a pending sector.
            self.may_add |= units(sectors)

    def end_fault(self, s, t):
        if s in self.faults:
            kind, start = self.faults.pop(s)
            if kind in ("read", "rw"):
                for u in units([s]):
                    self.read_faults.setdefault(u, []).append((start, t))

    def end_faults(self, t):
        for s in list(self.faults):
            self.end_fault(s, t)

    def may_lose(self, sector, t_write):
        """True when a read fault on the sector's unit was active after an
        acknowledged write to it began: an add_bad or scrub may then have
        found it unreadable and made it pending (SPEC: a drive never invents
        data), and a later remove returns MAIN's older content."""
        return any(end > t_write for _, end in self.read_faults.get(sector, []))


def load_acks(path, acks):
    """Per sector, the newest acknowledged (seq, t_start) from one writer's
    ack log; the writer's sequence numbers only grow."""
    with open(path) as f:
        for line in f:
            first, count, seq, t = map(int, line.split())
            for s in range(first, first + count):
                acks[s] = (seq, t)
