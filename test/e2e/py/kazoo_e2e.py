#!/usr/bin/python3
"""End-to-end checks with the kazoo client and its recipes.

Usage: kazoo_e2e.py host:port /base/path

Prints "PASS <check>" or "FAIL <check>: <reason>" per check and exits 1 if
any check failed.
"""

import logging
import queue
import sys
import threading
import time
import traceback

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.security import make_digest_acl

HOSTS = sys.argv[1] if len(sys.argv) > 1 else ""
BASE = sys.argv[2] if len(sys.argv) > 2 else ""
WAIT = 10.0  # seconds any single expected event may take

clients = []
failures = 0


def client(**kwargs):
    c = KazooClient(hosts=HOSTS, timeout=10.0, **kwargs)
    c.start(timeout=15)
    clients.append(c)
    return c


def check(name, fn):
    global failures
    try:
        fn()
        print("PASS " + name, flush=True)
    except Exception as e:  # report every failure and go on
        failures += 1
        print("FAIL %s: %s: %s" % (name, type(e).__name__, str(e).replace("\n", " ")), flush=True)
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_eq(want, got, what):
    if want != got:
        raise AssertionError("%s: want %r, got %r" % (what, want, got))


def expect_raises(exc, fn, what):
    try:
        fn()
    except exc:
        return
    except Exception as e:
        raise AssertionError("%s: want %s, got %s" % (what, exc.__name__, type(e).__name__))
    raise AssertionError("%s: want %s, call succeeded" % (what, exc.__name__))


def wait_for(pred, what, timeout=WAIT):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def check_crud(zk):
    p = BASE + "/crud"
    expect_eq(p, zk.create(p, b"v0"), "create")
    data, st = zk.get(p)
    expect_eq(b"v0", data, "get data")
    expect_eq(0, st.version, "initial version")
    expect_eq(2, st.dataLength, "dataLength")
    expect(st.czxid == st.mzxid and st.czxid > 0, "zxids of a fresh node %r" % (st,))
    st = zk.set(p, b"v1", version=0)
    expect_eq(1, st.version, "version after set")
    expect_raises(BadVersionError, lambda: zk.set(p, b"v2", version=0), "set with stale version")
    expect_raises(NodeExistsError, lambda: zk.create(p), "create existing")
    expect_raises(NoNodeError, lambda: zk.get(p + "/missing"), "get missing")
    expect_raises(NoNodeError, lambda: zk.create(p + "/no/parent"), "create without parent")

    deep = zk.create(p + "/x/y/z", b"deep", makepath=True)
    expect_eq(p + "/x/y/z", deep, "makepath")
    zk.ensure_path(p + "/x/y/z")
    expect_raises(NotEmptyError, lambda: zk.delete(p + "/x"), "delete non-empty")

    s1 = zk.create(p + "/seq-", sequence=True)
    s2 = zk.create(p + "/seq-", sequence=True)
    # x was the first child created under p, so the counter is at 1.
    expect_eq(p + "/seq-0000000001", s1, "first sequential (after x)")
    expect_eq(p + "/seq-0000000002", s2, "second sequential")
    e = zk.create(p + "/eph", ephemeral=True)
    expect_eq(zk.client_id[0], zk.exists(e).ephemeralOwner, "ephemeralOwner is the session id")

    kids = sorted(zk.get_children(p))
    expect_eq(["eph", "seq-0000000001", "seq-0000000002", "x"], kids, "children")
    expect_eq(4, zk.exists(p).numChildren, "numChildren")
    zk.delete(p + "/x", recursive=True)
    expect_eq(None, zk.exists(p + "/x"), "recursive delete")
    expect_eq(None, zk.exists(p + "/missing"), "exists of a missing node")


def check_transaction(zk):
    p = BASE + "/txn"
    zk.create(p, b"t")
    t = zk.transaction()
    t.create(p + "/a", b"a")
    t.set_data(p, b"t2", version=0)
    t.check(p + "/a", 0)
    t.delete(p + "/a")
    res = t.commit()
    expect_eq(4, len(res), "result count")
    expect_eq(p + "/a", res[0], "create result")
    expect_eq(1, res[1].version, "set_data result")
    expect_eq([True, True], res[2:], "check and delete results")

    t = zk.transaction()
    t.create(p + "/b")
    t.set_data(p, b"t3", version=99)
    t.delete(p + "/missing")
    res = t.commit()
    kinds = [type(r) for r in res]
    expect_eq([RolledBackError, BadVersionError, RuntimeInconsistency], kinds, "failed transaction results")
    expect_eq(None, zk.exists(p + "/b"), "failed transaction is atomic")


def check_acl(zk):
    p = BASE + "/acl"
    owner = client(auth_data=[("digest", "carol:pw")])
    acl = make_digest_acl("carol", "pw", all=True)
    owner.create(p, b"secret", acl=[acl])
    expect_eq(b"secret", owner.get(p)[0], "owner reads")
    expect_raises(NoAuthError, lambda: zk.get(p), "read without auth")
    expect_raises(NoAuthError, lambda: zk.set(p, b"x"), "write without auth")
    acls, _ = owner.get_acls(p)
    expect_eq(acl.id.id, acls[0].id.id, "digest id")
    zk.add_auth("digest", "carol:pw")
    expect_eq(b"secret", zk.get(p)[0], "read after add_auth")


def check_lock(zk):
    path = BASE + "/lock"
    a, b = client(), client()
    la, lb = a.Lock(path, "a"), b.Lock(path, "b")

    # Contention: b blocks while a holds the lock.
    expect(la.acquire(timeout=WAIT), "a acquires")
    got_b = threading.Event()

    def take_b():
        if lb.acquire(timeout=2 * WAIT):
            got_b.set()

    tb = threading.Thread(target=take_b, daemon=True)
    tb.start()
    wait_for(lambda: len(la.contenders()) == 2, "two contenders")
    expect_eq(["a", "b"], la.contenders(), "contenders in order")
    expect(not got_b.wait(0.5), "b acquired while a held the lock")
    la.release()
    expect(got_b.wait(WAIT), "b acquires after a releases")
    tb.join(WAIT)
    lb.release()

    # Mutual exclusion under repeated contention.
    holders = [0]
    max_holders = [0]
    rounds = [0]
    mu = threading.Lock()
    errors = []

    def worker(lock):
        try:
            for _ in range(4):
                with lock:
                    with mu:
                        holders[0] += 1
                        max_holders[0] = max(max_holders[0], holders[0])
                    time.sleep(0.03)
                    with mu:
                        holders[0] -= 1
                        rounds[0] += 1
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(l,), daemon=True) for l in (la, lb)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(3 * WAIT)
    expect(not errors, "worker errors: %r" % errors)
    expect_eq(8, rounds[0], "critical sections completed")
    expect_eq(1, max_holders[0], "max simultaneous holders")
    expect_eq([], zk.get_children(path), "lock nodes left")


def check_election(zk):
    path = BASE + "/election"
    a, b = client(), client()
    ea, eb = a.Election(path, "a"), b.Election(path, "b")
    leading = queue.Queue()
    step_down = {"a": threading.Event(), "b": threading.Event()}

    def lead(name):
        leading.put(name)
        step_down[name].wait(3 * WAIT)

    ta = threading.Thread(target=ea.run, args=(lead, "a"), daemon=True)
    ta.start()
    expect_eq("a", leading.get(timeout=WAIT), "first leader")
    tb = threading.Thread(target=eb.run, args=(lead, "b"), daemon=True)
    tb.start()
    wait_for(lambda: len(ea.contenders()) == 2, "two contenders")
    expect_eq(["a", "b"], eb.contenders(), "contenders")
    expect(leading.empty(), "b leads while a leads")
    step_down["a"].set()
    expect_eq("b", leading.get(timeout=WAIT), "leader after a steps down")
    step_down["b"].set()
    ta.join(WAIT)
    tb.join(WAIT)


def check_barrier(zk):
    path = BASE + "/barrier"
    other = client()
    bar = zk.Barrier(path)
    expect(other.Barrier(path).wait(1), "wait on an absent barrier returns at once")
    bar.create()
    # other may be connected to another member, which ZooKeeper lets
    # apply the create later: only a sync makes another session's write
    # visible (ZooKeeper's consistency guarantees). Without it the waiter
    # could find no barrier and pass, against zkd and ZooKeeper alike.
    other.sync(path)
    done = threading.Event()
    result = []

    def waiter():
        result.append(other.Barrier(path).wait(2 * WAIT))
        done.set()

    threading.Thread(target=waiter, daemon=True).start()
    expect(not done.wait(0.5), "waiter passed a closed barrier")
    bar.remove()
    expect(done.wait(WAIT), "waiter released after remove")
    expect_eq([True], result, "wait result")


def check_counter(zk):
    path = BASE + "/counter"
    a, b = client(), client()
    errors = []

    def bump(c):
        try:
            counter = c.Counter(path)
            for _ in range(20):
                counter += 1
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=bump, args=(c,), daemon=True) for c in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(3 * WAIT)
    expect(not errors, "increment errors: %r" % errors)
    counter = zk.Counter(path)
    expect_eq(40, counter.value, "counter after 2x20 concurrent increments")
    counter -= 5
    expect_eq(35, counter.value, "counter after -5")


def check_queue(zk):
    q = zk.Queue(BASE + "/queue")
    q.put(b"a")
    q.put(b"b")
    q.put(b"urgent", priority=1)
    expect_eq(3, len(q), "queue length")
    consumer = client().Queue(BASE + "/queue")
    expect_eq([b"urgent", b"a", b"b"], [consumer.get(), consumer.get(), consumer.get()], "priority then FIFO")
    expect_eq(None, consumer.get(), "get on empty queue")

    lq = zk.LockingQueue(BASE + "/lqueue")
    lq.put(b"job1")
    lq.put(b"job2")
    worker = client().LockingQueue(BASE + "/lqueue")
    expect_eq(b"job1", worker.get(WAIT), "locking queue get")
    expect(worker.holds_lock(), "worker holds the item")
    expect(worker.consume(), "consume")
    expect_eq(b"job2", worker.get(WAIT), "next item")
    expect(worker.consume(), "consume second")
    expect_eq(0, len(lq), "locking queue drained")


def check_party(zk):
    path = BASE + "/party"
    a, b = client(), client()
    pa, pb = a.Party(path, "alpha"), b.Party(path, "beta")
    pa.join()
    pb.join()
    watcher = zk.Party(path)
    expect_eq(2, len(watcher), "party size")
    expect_eq(["alpha", "beta"], sorted(watcher), "members")
    pa.leave()
    expect_eq(["beta"], sorted(watcher), "after alpha leaves")
    b.stop()  # ephemeral membership ends with the session
    b.close()
    clients.remove(b)
    wait_for(lambda: len(watcher) == 0, "beta gone after its session closed")


def check_children_watch(zk):
    path = BASE + "/cw"
    zk.create(path)
    seen = queue.Queue()
    zk.ChildrenWatch(path, lambda children: seen.put(sorted(children)))
    expect_eq([], seen.get(timeout=WAIT), "initial call")
    zk.create(path + "/a")
    expect_eq(["a"], seen.get(timeout=WAIT), "after create a")
    zk.create(path + "/b")
    expect_eq(["a", "b"], seen.get(timeout=WAIT), "after create b")
    zk.set(path + "/a", b"data")  # data changes do not fire child watches
    zk.delete(path + "/a")
    expect_eq(["b"], seen.get(timeout=WAIT), "after delete a")


def check_data_watch(zk):
    path = BASE + "/dw"
    seen = queue.Queue()

    def on_data(data, stat):
        seen.put((data, stat.version if stat else None))

    zk.DataWatch(path, on_data)
    expect_eq((None, None), seen.get(timeout=WAIT), "initial call for a missing node")
    zk.create(path, b"x")
    expect_eq((b"x", 0), seen.get(timeout=WAIT), "after create")
    zk.set(path, b"y")
    expect_eq((b"y", 1), seen.get(timeout=WAIT), "after set")
    zk.set(path, b"z")
    expect_eq((b"z", 2), seen.get(timeout=WAIT), "after second set")
    zk.delete(path)
    expect_eq((None, None), seen.get(timeout=WAIT), "after delete")


def main():
    if not HOSTS or not BASE:
        print("usage: kazoo_e2e.py host:port /base", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR)
    zk = client()
    zk.create(BASE)
    for name, fn in [
        ("crud", check_crud),
        ("transaction", check_transaction),
        ("acl", check_acl),
        ("lock", check_lock),
        ("election", check_election),
        ("barrier", check_barrier),
        ("counter", check_counter),
        ("queue", check_queue),
        ("party", check_party),
        ("children-watch", check_children_watch),
        ("data-watch", check_data_watch),
    ]:
        check(name, lambda fn=fn: fn(zk))
    for c in clients:
        try:
            c.stop()
            c.close()
        except Exception:
            pass
    print("ALL PASSED" if failures == 0 else "%d CHECK(S) FAILED" % failures, flush=True)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
