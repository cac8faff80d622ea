#!/usr/bin/python3
"""A kazoo session that lives through the loss of the ensemble's leader.

Usage: kazoo_failover.py host:port,host:port,... /base/path

Sets up an ephemeral node, some writes, plain watches and the DataWatch
and ChildrenWatch recipes (kazoo drops plain watches on a lost connection;
the recipes set theirs again after reconnecting),
prints "READY <session id> <server>" and blocks until a line arrives on
stdin: the test kills the leader in between and writes the line once a new
leader serves. Then it waits for the client to reconnect and prints
"PASS <check>" or "FAIL <check>: <reason>" per check; exit 1 if any failed.
"""

import logging
import queue
import sys
import time
import traceback

from kazoo.client import KazooClient
from kazoo.protocol.states import EventType, KazooState

HOSTS = sys.argv[1] if len(sys.argv) > 1 else ""
BASE = sys.argv[2] if len(sys.argv) > 2 else ""

failures = 0


def check(name, fn):
    global failures
    try:
        fn()
        print("PASS " + name, flush=True)
    except Exception as e:
        failures += 1
        print("FAIL %s: %s: %s" % (name, type(e).__name__, str(e).replace("\n", " ")), flush=True)
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def peer(zk):
    """The server the client is connected to, for the log."""
    try:
        return "%s:%d" % zk._connection._socket.getpeername()[:2]
    except Exception:
        return "?"


def wait_value(q, want, what, timeout=15.0):
    """Waits until a recipe callback reports want (it may report older
    values first, e.g. again on reconnect)."""
    end = time.time() + timeout
    seen = []
    while True:
        left = end - time.time()
        if left <= 0:
            raise AssertionError("%s: no call with %r within %.0fs; calls %r" % (what, want, timeout, seen))
        try:
            v = q.get(timeout=left)
        except queue.Empty:
            continue
        if v == want:
            return
        seen.append(v)


def main():
    if not HOSTS or not BASE:
        print("usage: kazoo_failover.py host:port,... /base", file=sys.stderr)
        return 2
    # Warnings too: kazoo says there why it dropped a connection.
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout,
                        format="kazoo %(asctime)s.%(msecs)03d %(levelname)s %(message)s",
                        datefmt="%H:%M:%S")
    states = queue.Queue()
    events = queue.Queue()
    zk = KazooClient(hosts=HOSTS, timeout=10.0)
    zk.add_listener(states.put)
    zk.start(timeout=15)
    sid = zk.client_id[0]
    eph, data, created = BASE + "/eph", BASE + "/data", BASE + "/new"
    zk.create(BASE, b"v0")
    zk.create(eph, b"e", ephemeral=True)
    zk.create(data, b"d")
    for i in range(10):
        zk.set(data, b"d%d" % i, version=i)
    # Plain watches: kazoo does not re-register them with SetWatches; on a
    # lost connection it fires them with a NONE event instead.
    zk.get(data, watch=events.put)
    zk.exists(created, watch=events.put)
    zk.get_children(BASE, watch=events.put)
    # The DataWatch and ChildrenWatch recipes set their watches again on
    # the server the client reconnects to.
    data_seen, new_seen, kids_seen = queue.Queue(), queue.Queue(), queue.Queue()
    zk.DataWatch(data, lambda d, st: data_seen.put(d))
    zk.DataWatch(created, lambda d, st: new_seen.put(d))
    zk.ChildrenWatch(BASE, lambda kids: kids_seen.put(sorted(kids)))
    expect(data_seen.get(timeout=10) == b"d9", "DataWatch first call")
    expect(new_seen.get(timeout=10) is None, "DataWatch of a missing node first call")
    expect(kids_seen.get(timeout=10) == ["data", "eph"], "ChildrenWatch first call")
    # Drop the CONNECTED of the start.
    while not states.empty():
        states.get()
    print("READY %x %s" % (sid, peer(zk)), flush=True)

    if not sys.stdin.readline():
        print("FAIL go: stdin closed before the go-ahead", flush=True)
        return 1

    def reconnected():
        seen = []
        down = False
        end = time.time() + 30
        while True:
            left = end - time.time()
            try:
                s = states.get(timeout=left) if left > 0 else None
            except queue.Empty:
                s = None
            if s is None:
                raise AssertionError("no SUSPENDED then CONNECTED within 30s; saw %r" % seen)
            seen.append(s)
            if s == KazooState.LOST:
                raise AssertionError("session lost; saw %r" % seen)
            if s == KazooState.SUSPENDED:
                down = True
            elif s == KazooState.CONNECTED and down:
                print("reconnected to %s" % peer(zk), flush=True)
                return

    def same_session():
        expect(zk.client_id[0] == sid, "session id %x, want %x" % (zk.client_id[0], sid))

    def ephemeral_survives():
        st = zk.exists(eph)
        expect(st is not None, eph + " is gone")
        expect(st.ephemeralOwner == sid, "ephemeralOwner %x" % st.ephemeralOwner)

    def write_after():
        st = zk.set(data, b"after", version=10)
        expect(st.version == 11, "version after the failover write %d" % st.version)
        expect(zk.get(data)[0] == b"after", "data not written")

    def plain_watches():
        got = []
        for _ in range(3):
            ev = events.get(timeout=10)
            expect(ev.type == EventType.NONE, "plain watch fired with %r, want a NONE event" % (ev,))
            got.append(ev)

    other = []

    def new_session():
        c = KazooClient(hosts=HOSTS, timeout=10.0)
        c.start(timeout=20)
        other.append(c)
        c.create(created, b"n")

    def sync_after():
        zk.sync(BASE)
        expect("new" in zk.get_children(BASE), "children after sync %r" % zk.get_children(BASE))

    def close_removes_ephemeral():
        zk.stop()
        zk.close()
        expect(other, "no second session")
        end = time.time() + 10
        while other[0].exists(eph) is not None:
            expect(time.time() < end, eph + " still there 10s after its session closed")
            time.sleep(0.05)

    check("disconnected-then-reconnected", reconnected)
    check("same-session", same_session)
    check("ephemeral-survives", ephemeral_survives)
    check("write-after-failover", write_after)
    check("plain-watches-fired-on-loss", plain_watches)
    check("data-watch-fires", lambda: wait_value(data_seen, b"after", "DataWatch of " + data))
    check("new-session-after-failover", new_session)
    check("exists-watch-fires", lambda: wait_value(new_seen, b"n", "DataWatch of " + created))
    check("child-watch-fires", lambda: wait_value(kids_seen, ["data", "eph", "new"], "ChildrenWatch of " + BASE))
    check("sync-after-failover", sync_after)
    check("close-removes-ephemeral", close_removes_ephemeral)
    for c in other:
        try:
            c.stop()
            c.close()
        except Exception:
            pass
    print("ALL PASSED" if failures == 0 else "%d CHECK(S) FAILED" % failures, flush=True)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
