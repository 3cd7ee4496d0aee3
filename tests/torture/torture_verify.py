#!/usr/bin/env python3
# torture_verify.py: after a kill -9 and a remount, checks the mount against
# what the logs of torture.sh say was acknowledged (torture_model.py).
#
#   torture_verify.py DISK REMAPS STORM_LOG WRITER...
#
# DISK is the mounted disk file, REMAPS a copy of control/remaps read after
# the remount, each WRITER `ID:FIRST:COUNT:ACKLOG`. It checks:
#  - every acknowledged add_bad sector is in REMAPS, unless a later remove
#    acknowledged or cut by the kill may have returned it;
#  - every acknowledged remove sector is absent, unless something later may
#    have remapped it (an add_bad cut by the kill, a fault on its unit);
#  - every pending sector reads EIO;
#  - every sector a writer acknowledged holds a whole stamp of that writer
#    and sector, with a sequence at least the last acknowledged one (a later,
#    unacknowledged write may have landed), unless a read fault on its unit
#    may have made it pending since (then: EIO and pending, or a stamp of
#    any sequence, MAIN's older content after a remove);
#  - no control write failed with an errno the SPEC does not allow there.
# Prints its counts (key=value, one line); exit 0 when all held, 1 (listing
# what broke) if not.
import errno
import os
import struct
import sys

from torture_model import Model, load_acks

SECTOR = 512
MAGIC = 0x5452555452504D52
MASK = (1 << 64) - 1


def stamp_of(data, writer, sector):
    """The stamp's sequence number if `data` is a whole stamp written by
    `writer` for `sector` (torture_writer.cc), else None."""
    words = struct.unpack("<64Q", data)
    if words[0] != MAGIC or words[1] != writer or words[2] != sector:
        return None
    seq = words[3]
    base = (seq * 0x9E3779B97F4A7C15) & MASK ^ (sector << 20)
    if any(words[i] != base ^ i for i in range(4, 64)):
        return None
    return seq


def read_sectors(fd, first, count):
    """{sector: bytes or None (EIO)}: one read, sector by sector on EIO."""
    try:
        data = os.pread(fd, count * SECTOR, first * SECTOR)
        return {first + i: data[i * SECTOR:(i + 1) * SECTOR] for i in range(count)}
    except OSError as e:
        if e.errno != errno.EIO:
            raise
    out = {}
    for s in range(first, first + count):
        try:
            out[s] = os.pread(fd, SECTOR, s * SECTOR)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            out[s] = None
    return out


def load_remaps(path):
    with open(path) as f:
        return {int(line.split()[0]): line.split()[2] for line in f if line.strip()}


def check_remaps(model, remaps, problems, counts):
    for s, op in sorted(model.state.items()):
        held = s in remaps
        if (op == "add") == held:
            counts["remaps_verified"] += 1
        elif op == "add" and s not in model.may_remove:
            problems.append(f"sector {s}: add_bad acknowledged, not in remaps")
        elif op == "remove" and s not in model.may_add:
            problems.append(f"sector {s}: remove acknowledged, still in remaps ({remaps[s]})")


def check_writer(fd, model, remaps, writer, problems, counts):
    wid, first, count, acklog = writer.split(":", 3)
    wid, first, count = int(wid), int(first), int(count)
    acks = {}
    load_acks(acklog, acks)
    got = read_sectors(fd, first, count)
    for s, (seq, t_write) in sorted(acks.items()):
        data, lossy = got[s], model.may_lose(s, t_write)
        if data is None:
            if remaps.get(s) != "pending":
                problems.append(f"sector {s}: EIO but not pending")
            elif not lossy:
                problems.append(f"sector {s}: pending with no read fault since "
                                f"its acknowledged write (seq {seq:#x})")
            else:
                counts["lost"] += 1
            continue
        found = stamp_of(data, wid, s)
        if found is None:
            problems.append(f"sector {s}: not a stamp of writer {wid} "
                            f"(acknowledged seq {seq:#x}; holds {data[:32].hex()})")
        elif found < seq and not lossy:
            problems.append(f"sector {s}: seq {found:#x} is older than the "
                            f"acknowledged {seq:#x}")
        elif found < seq:
            counts["lost"] += 1
        else:
            counts["sectors_verified"] += 1
            counts["newer_than_acked"] += found > seq


def check_pending_reads(fd, remaps, problems):
    for s, state in remaps.items():
        if state == "pending" and read_sectors(fd, s, 1)[s] is not None:
            problems.append(f"sector {s}: pending but reads")


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__ or "usage: torture_verify.py DISK REMAPS STORM_LOG WRITER...\n")
        return 2
    disk, remaps_path, storm_log, writers = argv[1], argv[2], argv[3], argv[4:]
    model = Model()
    model.load(storm_log)
    remaps = load_remaps(remaps_path)
    problems = [f"control write failed unexpectedly: {u}" for u in model.unexpected]
    counts = {"remaps_verified": 0, "sectors_verified": 0, "newer_than_acked": 0,
              "lost": 0}
    check_remaps(model, remaps, problems, counts)
    fd = os.open(disk, os.O_RDONLY)
    try:
        for w in writers:
            check_writer(fd, model, remaps, w, problems, counts)
        check_pending_reads(fd, remaps, problems)
    finally:
        os.close(fd)
    c = model.counts
    # One line of key=value, summed up by torture.sh.
    print(f"rounds={c['rounds']} control_acked={c['acked']} control_refused={c['refused']} "
          f"control_cut={c['cut']} remaps_verified={counts['remaps_verified']} "
          f"sectors_verified={counts['sectors_verified']} newer={counts['newer_than_acked']} "
          f"lost={counts['lost']}")
    for p in problems[:40]:
        print("PROBLEM:", p)
    if len(problems) > 40:
        print(f"PROBLEM: ... and {len(problems) - 40} more")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
