"""The settle rule (issue 16 items 10/11): unchanged for the settle time, backing off while changing."""

from __future__ import annotations

from gsdesktop.sync.settle import Settle


def ident(size: int, mtime: float, inode: int = 7) -> tuple[int, int, int]:
    return (inode, size, int(mtime * 1e9))


def test_a_file_written_long_ago_is_not_held_and_a_fresh_one_waits_the_settle_time() -> None:
    s = Settle(1.0)
    assert not s.hold("old", ident(5, 100.0), now=0.0, wall=200.0)
    assert s.hold("new", ident(5, 199.8), now=0.0, wall=200.0)  # written 0.2 s ago: 0.8 s to go
    assert s.hold("new", ident(5, 199.8), now=0.7, wall=200.7)
    assert not s.hold("new", ident(5, 199.8), now=0.85, wall=200.85)


def test_a_future_mtime_settles_once_seen_unchanged_for_the_settle_time() -> None:
    s = Settle(1.0)
    future = ident(5, 4_000_000_000.0)  # 2096
    assert s.hold("f", future, now=10.0, wall=1000.0)
    assert s.hold("f", future, now=10.9, wall=1000.9)
    assert not s.hold("f", future, now=11.0, wall=1001.0)


def test_a_growing_file_waits_longer_each_time_it_changes_after_it_settled() -> None:
    s = Settle(0.75, max_hold=60.0)
    eligible: list[int] = []
    t = 0.0
    for k in range(30):  # 1 MiB appended every 2 s, looked at every 0.25 s
        mtime = 1000.0 + 2.0 * k
        while t < 2.0 * (k + 1):
            held = s.hold("run.fastq", ident(k + 1, mtime), now=t, wall=1000.0 + t)
            if not held and (not eligible or eligible[-1] != k):
                eligible.append(k)  # would be uploaded now (once per version)
            t += 0.25
    assert eligible == [0], eligible  # once while growing: then it waits 3 s, longer than 2 s apart
    t_end = t
    while s.hold("run.fastq", ident(30, 1058.0), now=t, wall=1000.0 + t):
        t += 0.25
    assert t - 58.0 <= 3.5 and t >= t_end  # the finished file goes up one wait (3 s) after its last write


def test_a_quiet_spell_starts_over_and_a_zero_settle_time_holds_nothing() -> None:
    s = Settle(0.5)
    assert s.hold("d", ident(1, 100.0), now=0.0, wall=100.0)
    assert not s.hold("d", ident(1, 100.0), now=0.5, wall=100.5)
    assert s.hold("d", ident(2, 101.0), now=1.0, wall=101.0)  # changed soon after: waits 2 s now
    assert s.hold("d", ident(2, 101.0), now=2.9, wall=102.9)
    assert not s.hold("d", ident(2, 101.0), now=3.1, wall=103.1)
    assert s.hold("d", ident(3, 200.0), now=100.0, wall=200.0)  # 99 s later: the 0.5 s wait again
    assert not s.hold("d", ident(3, 200.0), now=100.5, wall=200.5)
    assert not Settle(0.0).hold("x", ident(1, 100.0), now=0.0, wall=100.0)
