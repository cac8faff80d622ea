// E2E exercises the ZooKeeper Java client API against a running server.
// Usage: java E2E host:port /base/path
// Prints "PASS <check>" or "FAIL <check>: <reason>" per check and exits 1
// if any check failed.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public class E2E {
    static String hosts;
    static String base;
    static int failures;
    static final List<ZooKeeper> sessions = new ArrayList<>();

    interface Check {
        void run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: E2E host:port /base");
            System.exit(2);
        }
        hosts = args[0];
        base = args[1];

        ZooKeeper zk = connect();
        zk.create(base, new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);

        check("session", () -> checkSession(zk));
        check("crud", () -> checkCrud(zk));
        check("errors", () -> checkErrors(zk));
        check("data-watch-one-shot", () -> checkDataWatch(zk));
        check("child-watch-one-shot", () -> checkChildWatch(zk));
        check("exists-watch", () -> checkExistsWatch(zk));
        check("multi-success", () -> checkMultiSuccess(zk));
        check("multi-failure-results", () -> checkMultiFailure(zk));
        check("multi-read", () -> checkMultiRead(zk));
        check("acl-digest", () -> checkAcl(zk));
        check("add-watch-persistent", () -> checkPersistentWatch(zk));
        check("add-watch-persistent-recursive", () -> checkRecursiveWatch(zk));
        check("ephemeral-removed-on-close", () -> checkEphemeralClose(zk));
        check("sequential-naming", () -> checkSequential(zk));
        check("get-ephemerals", () -> checkGetEphemerals());
        check("get-all-children-number", () -> checkAllChildrenNumber(zk));
        check("who-am-i", () -> checkWhoAmI());
        check("container", () -> checkContainer(zk));
        check("ttl", () -> checkTTL(zk));
        check("sync", () -> checkSync(zk));

        for (ZooKeeper s : sessions) {
            try {
                s.close(2000);
            } catch (Exception e) {
                // closing is best effort
            }
        }
        System.out.println(failures == 0 ? "ALL PASSED" : failures + " CHECK(S) FAILED");
        System.out.flush();
        System.exit(failures == 0 ? 0 : 1);
    }

    static void check(String name, Check c) {
        try {
            c.run();
            System.out.println("PASS " + name);
        } catch (Throwable e) {
            failures++;
            System.out.println("FAIL " + name + ": " + e);
            e.printStackTrace(System.out);
        }
        System.out.flush();
    }

    static void expect(boolean cond, String msg) {
        if (!cond) {
            throw new AssertionError(msg);
        }
    }

    static void expectEq(Object want, Object got, String what) {
        if (want == null ? got != null : !want.equals(got)) {
            throw new AssertionError(what + ": want " + want + ", got " + got);
        }
    }

    // expectKeeper runs c and requires a KeeperException with the given code.
    static void expectKeeper(KeeperException.Code code, Check c, String what) throws Exception {
        try {
            c.run();
        } catch (KeeperException e) {
            expectEq(code, e.code(), what);
            return;
        }
        throw new AssertionError(what + ": want " + code + ", call succeeded");
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static ZooKeeper connect() throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hosts, 10000, e -> {
            if (e.getState() == KeeperState.SyncConnected) {
                up.countDown();
            }
        });
        sessions.add(zk);
        if (!up.await(20, TimeUnit.SECONDS)) {
            throw new AssertionError("no SyncConnected within 20s");
        }
        return zk;
    }

    // Events records watch events for later inspection.
    static class Events implements Watcher {
        final BlockingQueue<WatchedEvent> q = new LinkedBlockingQueue<>();

        public void process(WatchedEvent e) {
            if (e.getType() != EventType.None) {
                q.add(e);
            }
        }

        WatchedEvent next(EventType type, String path) throws InterruptedException {
            WatchedEvent e = q.poll(10, TimeUnit.SECONDS);
            if (e == null) {
                throw new AssertionError("no event within 10s, wanted " + type + " " + path);
            }
            expectEq(type, e.getType(), "event type for " + path);
            expectEq(path, e.getPath(), "event path");
            return e;
        }

        void none(long ms) throws InterruptedException {
            WatchedEvent e = q.poll(ms, TimeUnit.MILLISECONDS);
            if (e != null) {
                throw new AssertionError("unexpected event " + e.getType() + " " + e.getPath());
            }
        }
    }

    static void checkSession(ZooKeeper zk) {
        expect(zk.getSessionId() != 0, "session id is 0");
        // 10000 lies inside [2*tickTime, 20*tickTime] so it is granted as asked.
        expectEq(10000, zk.getSessionTimeout(), "negotiated session timeout");
        expectEq(16, zk.getSessionPasswd().length, "session password length");
    }

    static void checkCrud(ZooKeeper zk) throws Exception {
        String p = base + "/crud";
        Stat st = new Stat();
        expectEq(p, zk.create(p, b("v0"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, st), "create path");
        expect(st.getCzxid() > 0 && st.getCzxid() == st.getMzxid(), "create stat zxids " + st);
        expectEq(0, st.getVersion(), "create stat version");
        expectEq(2, st.getDataLength(), "create stat dataLength");

        Stat got = new Stat();
        expectEq("v0", s(zk.getData(p, false, got)), "getData");
        expectEq(st, got, "getData stat");

        Stat set = zk.setData(p, b("v1"), 0);
        expectEq(1, set.getVersion(), "setData version");
        expect(set.getMzxid() > set.getCzxid(), "mzxid after set");
        expectEq(st.getCtime(), set.getCtime(), "ctime after set");
        expect(set.getMtime() >= set.getCtime(), "mtime >= ctime");
        set = zk.setData(p, b("v2"), -1);
        expectEq(2, set.getVersion(), "setData version -1");

        zk.create(p + "/a", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create(p + "/b", b(""), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        Stat parent = new Stat();
        List<String> kids = new ArrayList<>(zk.getChildren(p, false, parent));
        Collections.sort(kids);
        expectEq(Arrays.asList("a", "b"), kids, "children");
        expectEq(2, parent.getNumChildren(), "numChildren");
        expectEq(2, parent.getCversion(), "cversion");
        expect(parent.getPzxid() > set.getMzxid(), "pzxid follows child creation");
        expectEq(null, zk.getData(p + "/a", false, null), "null data round trip");
        expectEq(0, zk.getData(p + "/b", false, null).length, "empty data round trip");

        zk.delete(p + "/a", 0);
        zk.delete(p + "/b", -1);
        Stat after = zk.exists(p, false);
        expectEq(0, after.getNumChildren(), "numChildren after deletes");
        expectEq(4, after.getCversion(), "cversion after deletes");
        zk.delete(p, 2);
        expectEq(null, zk.exists(p, false), "exists after delete");
    }

    static void checkErrors(ZooKeeper zk) throws Exception {
        String p = base + "/errors";
        zk.create(p, b("x"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create(p + "/child", b("x"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        expectKeeper(KeeperException.Code.NONODE, () -> zk.getData(p + "/missing", false, null), "getData missing");
        expectKeeper(KeeperException.Code.NONODE, () -> zk.create(p + "/missing/x", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT), "create without parent");
        expectKeeper(KeeperException.Code.NODEEXISTS, () -> zk.create(p, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT), "create existing");
        expectKeeper(KeeperException.Code.NOTEMPTY, () -> zk.delete(p, -1), "delete non-empty");
        expectKeeper(KeeperException.Code.BADVERSION, () -> zk.setData(p, b("y"), 7), "setData bad version");
        expectKeeper(KeeperException.Code.BADVERSION, () -> zk.delete(p + "/child", 3), "delete bad version");
        String eph = zk.create(p + "/eph", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        expectKeeper(KeeperException.Code.NOCHILDRENFOREPHEMERALS, () -> zk.create(eph + "/kid", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT), "child of ephemeral");
        expectKeeper(KeeperException.Code.INVALIDACL, () -> zk.create(p + "/creator", null, Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT), "CREATOR_ALL_ACL without auth");
        expectKeeper(KeeperException.Code.NONODE, () -> zk.delete(p + "/missing", -1), "delete missing");
    }

    static void checkDataWatch(ZooKeeper zk) throws Exception {
        String p = base + "/dwatch";
        zk.create(p, b("0"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        Events ev = new Events();
        zk.getData(p, ev, null);
        zk.setData(p, b("1"), -1);
        ev.next(EventType.NodeDataChanged, p);
        zk.setData(p, b("2"), -1);
        ev.none(500); // one-shot: the watch fired once and is gone

        zk.getData(p, ev, null);
        zk.delete(p, -1);
        ev.next(EventType.NodeDeleted, p);
        ev.none(300);
    }

    static void checkChildWatch(ZooKeeper zk) throws Exception {
        String p = base + "/cwatch";
        zk.create(p, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        Events ev = new Events();
        expectEq(0, zk.getChildren(p, ev).size(), "no children yet");
        zk.create(p + "/a", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        ev.next(EventType.NodeChildrenChanged, p);
        zk.create(p + "/b", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        ev.none(500);

        // A child watch does not fire on the child's data change, only on
        // membership changes.
        zk.getChildren(p, ev);
        zk.setData(p + "/a", b("x"), -1);
        zk.setData(p, b("x"), -1);
        ev.none(300);
        zk.delete(p + "/a", -1);
        ev.next(EventType.NodeChildrenChanged, p);
    }

    static void checkExistsWatch(ZooKeeper zk) throws Exception {
        String p = base + "/ewatch";
        Events ev = new Events();
        expectEq(null, zk.exists(p, ev), "exists before create");
        zk.create(p, b("a"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        ev.next(EventType.NodeCreated, p);

        expect(zk.exists(p, ev) != null, "exists after create");
        zk.setData(p, b("b"), -1);
        ev.next(EventType.NodeDataChanged, p);
        zk.setData(p, b("c"), -1);
        ev.none(300);

        zk.exists(p, ev);
        zk.delete(p, -1);
        ev.next(EventType.NodeDeleted, p);
        ev.none(300);
    }

    static void checkMultiSuccess(ZooKeeper zk) throws Exception {
        String p = base + "/multi-ok";
        List<OpResult> res = zk.multi(Arrays.asList(
                Op.create(p, b("root"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.create(p + "/a", b("a"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.create(p + "/s-", b("s"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL),
                Op.setData(p + "/a", b("a2"), 0),
                Op.check(p + "/a", 1),
                Op.delete(p + "/a", 1)));
        expectEq(6, res.size(), "result count");
        expect(res.get(0) instanceof OpResult.CreateResult, "op0 " + res.get(0));
        expectEq(p, ((OpResult.CreateResult) res.get(0)).getPath(), "op0 path");
        expectEq(p + "/s-0000000001", ((OpResult.CreateResult) res.get(2)).getPath(), "sequential in multi");
        expect(res.get(3) instanceof OpResult.SetDataResult, "op3 " + res.get(3));
        expectEq(1, ((OpResult.SetDataResult) res.get(3)).getStat().getVersion(), "op3 version");
        expect(res.get(4) instanceof OpResult.CheckResult, "op4 " + res.get(4));
        expect(res.get(5) instanceof OpResult.DeleteResult, "op5 " + res.get(5));
        expectEq(null, zk.exists(p + "/a", false), "deleted in multi");
        expectEq(Collections.singletonList("s-0000000001"), zk.getChildren(p, false), "children after multi");
        // All ops of one multi share one zxid.
        Stat root = zk.exists(p, false);
        Stat seq = zk.exists(p + "/s-0000000001", false);
        expectEq(root.getCzxid(), seq.getCzxid(), "one zxid per multi");
    }

    static void checkMultiFailure(ZooKeeper zk) throws Exception {
        String p = base + "/multi-bad";
        zk.create(p, b("x"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        try {
            zk.multi(Arrays.asList(
                    Op.create(p + "/new", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                    Op.setData(p, b("y"), 99),
                    Op.delete(p + "/missing", -1)));
            throw new AssertionError("multi with a bad version succeeded");
        } catch (KeeperException.BadVersionException e) {
            List<OpResult> res = e.getResults();
            expect(res != null, "no per-op results");
            expectEq(3, res.size(), "result count");
            int[] want = {0, KeeperException.Code.BADVERSION.intValue(), KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()};
            for (int i = 0; i < want.length; i++) {
                expect(res.get(i) instanceof OpResult.ErrorResult, "op" + i + " is " + res.get(i).getClass().getSimpleName());
                expectEq(want[i], ((OpResult.ErrorResult) res.get(i)).getErr(), "op" + i + " err");
            }
        }
        expectEq(null, zk.exists(p + "/new", false), "failed multi is atomic");
        expectEq("x", s(zk.getData(p, false, null)), "data unchanged");

        // A failure in the first op: NoNode, the rest are runtime inconsistency.
        try {
            zk.multi(Arrays.asList(
                    Op.check(p + "/missing", -1),
                    Op.create(p + "/new", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT)));
            throw new AssertionError("multi with a check of a missing node succeeded");
        } catch (KeeperException.NoNodeException e) {
            List<OpResult> res = e.getResults();
            expectEq(-101, ((OpResult.ErrorResult) res.get(0)).getErr(), "op0 err");
            expectEq(-2, ((OpResult.ErrorResult) res.get(1)).getErr(), "op1 err");
        }
    }

    static void checkMultiRead(ZooKeeper zk) throws Exception {
        String p = base + "/multi-read";
        zk.create(p, b("r"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create(p + "/k", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        List<OpResult> res = zk.multi(Arrays.asList(
                Op.getChildren(p),
                Op.getData(p),
                Op.getData(p + "/missing")));
        expectEq(3, res.size(), "result count");
        expectEq(Collections.singletonList("k"), ((OpResult.GetChildrenResult) res.get(0)).getChildren(), "children");
        OpResult.GetDataResult gd = (OpResult.GetDataResult) res.get(1);
        expectEq("r", s(gd.getData()), "data");
        expectEq(1, gd.getStat().getNumChildren(), "stat numChildren");
        // Reads are independent: a failing read reports its own error only.
        expectEq(-101, ((OpResult.ErrorResult) res.get(2)).getErr(), "missing read err");
    }

    static void checkAcl(ZooKeeper owner) throws Exception {
        String p = base + "/acl";
        ZooKeeper alice = connect();
        alice.addAuthInfo("digest", b("alice:secret"));
        List<ACL> acl = new ArrayList<>();
        acl.add(new ACL(Perms.ALL, new Id("digest", DigestAuthenticationProvider.generateDigest("alice:secret"))));
        acl.add(new ACL(Perms.READ, Ids.ANYONE_ID_UNSAFE));
        alice.create(p, b("guarded"), acl, CreateMode.PERSISTENT);

        Stat st = new Stat();
        List<ACL> got = alice.getACL(p, st);
        expectEq(2, got.size(), "acl entries");
        expectEq(acl.get(0), got.get(0), "digest entry");
        expectEq(acl.get(1), got.get(1), "world read entry");
        expectEq(0, st.getAversion(), "aversion");
        // Without ADMIN permission the digest hash is masked as "x".
        got = owner.getACL(p, null);
        expectEq(new ACL(Perms.ALL, new Id("digest", "alice:x")), got.get(0), "digest entry seen without ADMIN");
        expectEq(acl.get(1), got.get(1), "world read entry seen without ADMIN");

        // Another session without credentials: world read only.
        ZooKeeper other = connect();
        expectEq("guarded", s(other.getData(p, false, null)), "world read");
        expectKeeper(KeeperException.Code.NOAUTH, () -> other.setData(p, b("x"), -1), "setData without auth");
        expectKeeper(KeeperException.Code.NOAUTH, () -> other.create(p + "/c", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT), "create child without auth");
        expectKeeper(KeeperException.Code.NOAUTH, () -> other.setACL(p, Ids.OPEN_ACL_UNSAFE, -1), "setACL without auth");

        // Wrong password is a different identity.
        ZooKeeper mallory = connect();
        mallory.addAuthInfo("digest", b("alice:wrong"));
        expectKeeper(KeeperException.Code.NOAUTH, () -> mallory.setData(p, b("x"), -1), "setData with wrong password");

        // The owner can write; the "auth" scheme expands to the session's identity.
        alice.setData(p, b("changed"), -1);
        alice.create(p + "/c", null, Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        expectEq(acl.get(0), alice.getACL(p + "/c", null).get(0), "CREATOR_ALL_ACL expands to digest id");
        expectKeeper(KeeperException.Code.NOAUTH, () -> other.getData(p + "/c", false, null), "read creator-only node");

        // setACL with a version check and aversion increment.
        expectKeeper(KeeperException.Code.BADVERSION, () -> alice.setACL(p, Ids.OPEN_ACL_UNSAFE, 5), "setACL bad version");
        Stat after = alice.setACL(p, Ids.READ_ACL_UNSAFE, 0);
        expectEq(1, after.getAversion(), "aversion after setACL");
        expectKeeper(KeeperException.Code.NOAUTH, () -> alice.setData(p, b("y"), -1), "write after READ_ACL_UNSAFE");
    }

    static void checkPersistentWatch(ZooKeeper zk) throws Exception {
        String p = base + "/pwatch";
        zk.create(p, b("0"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        Events ev = new Events();
        zk.addWatch(p, ev, AddWatchMode.PERSISTENT);
        zk.setData(p, b("1"), -1);
        ev.next(EventType.NodeDataChanged, p);
        zk.setData(p, b("2"), -1);
        ev.next(EventType.NodeDataChanged, p);
        zk.create(p + "/kid", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        ev.next(EventType.NodeChildrenChanged, p);
        zk.setData(p + "/kid", b("x"), -1); // not recursive: no event for the child
        zk.delete(p + "/kid", -1);
        ev.next(EventType.NodeChildrenChanged, p);
        zk.delete(p, -1);
        ev.next(EventType.NodeDeleted, p);
        zk.create(p, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        ev.next(EventType.NodeCreated, p); // survives the delete

        zk.removeWatches(p, ev, Watcher.WatcherType.Any, false);
        ev.next(EventType.PersistentWatchRemoved, p);
        zk.setData(p, b("3"), -1);
        ev.none(300);
    }

    static void checkRecursiveWatch(ZooKeeper zk) throws Exception {
        String p = base + "/rwatch";
        zk.create(p, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        Events ev = new Events();
        zk.addWatch(p, ev, AddWatchMode.PERSISTENT_RECURSIVE);
        zk.create(p + "/a", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        ev.next(EventType.NodeCreated, p + "/a");
        zk.create(p + "/a/b", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        ev.next(EventType.NodeCreated, p + "/a/b");
        zk.setData(p + "/a/b", b("1"), -1);
        ev.next(EventType.NodeDataChanged, p + "/a/b");
        zk.setData(p + "/a/b", b("2"), -1);
        ev.next(EventType.NodeDataChanged, p + "/a/b");
        zk.setData(p, b("top"), -1);
        ev.next(EventType.NodeDataChanged, p);
        zk.delete(p + "/a/b", -1);
        ev.next(EventType.NodeDeleted, p + "/a/b"); // no NodeChildrenChanged in recursive mode
        ev.none(300);
    }

    static void checkEphemeralClose(ZooKeeper watcherSession) throws Exception {
        String p = base + "/eph-close";
        watcherSession.create(p, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        ZooKeeper owner = connect();
        String e = owner.create(p + "/e", b("alive"), Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        Stat st = watcherSession.exists(e, false);
        expectEq(owner.getSessionId(), st.getEphemeralOwner(), "ephemeralOwner");

        Events ev = new Events();
        Events kids = new Events();
        expect(watcherSession.exists(e, ev) != null, "ephemeral visible to another session");
        watcherSession.getChildren(p, kids);
        owner.close();
        ev.next(EventType.NodeDeleted, e);
        kids.next(EventType.NodeChildrenChanged, p);
        expectEq(null, watcherSession.exists(e, false), "ephemeral gone after close");
    }

    static void checkSequential(ZooKeeper zk) throws Exception {
        String p = base + "/seq";
        zk.create(p, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        for (int i = 0; i < 3; i++) {
            String got = zk.create(p + "/n-", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL);
            expectEq(p + "/n-" + String.format("%010d", i), got, "sequential name " + i);
        }
        // The counter is the parent's count of child creations: a create of
        // a plain child advances it, a delete does not (although the
        // client-visible cversion counts both).
        zk.create(p + "/plain", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.delete(p + "/plain", -1);
        expectEq(5, zk.exists(p, false).getCversion(), "client-visible cversion after 4 creates and 1 delete");
        expectEq(p + "/e-0000000004", zk.create(p + "/e-", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL), "ephemeral sequential after create+delete");
        // The sequence suffix may follow a bare parent path too.
        expectEq(p + "/0000000005", zk.create(p + "/", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL), "sequential with empty prefix");
    }

    static void checkGetEphemerals() throws Exception {
        ZooKeeper zk = connect();
        String p = base + "/ephs";
        zk.create(p, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create(p + "/x", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        zk.create(p + "/y", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        zk.create(p + "/persistent", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        String outside = zk.create(base + "/eph-outside", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);

        List<String> under = new ArrayList<>(zk.getEphemerals(p));
        Collections.sort(under);
        expectEq(Arrays.asList(p + "/x", p + "/y"), under, "getEphemerals(prefix)");

        List<String> all = new ArrayList<>(zk.getEphemerals());
        Collections.sort(all);
        List<String> want = new ArrayList<>(Arrays.asList(p + "/x", p + "/y", outside));
        Collections.sort(want);
        expectEq(want, all, "getEphemerals()");

        ZooKeeper other = connect();
        expectEq(0, other.getEphemerals().size(), "other session has no ephemerals");
        zk.close();
    }

    static void checkAllChildrenNumber(ZooKeeper zk) throws Exception {
        String p = base + "/count";
        zk.create(p, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        expectEq(0, zk.getAllChildrenNumber(p), "empty subtree");
        for (String c : new String[]{"/a", "/b", "/a/c", "/a/c/d"}) {
            zk.create(p + c, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        }
        expectEq(4, zk.getAllChildrenNumber(p), "all descendants");
        expectEq(2, zk.getAllChildrenNumber(p + "/a"), "descendants of a");
        expectKeeper(KeeperException.Code.NONODE, () -> zk.getAllChildrenNumber(p + "/missing"), "missing node");
    }

    static void checkWhoAmI() throws Exception {
        ZooKeeper zk = connect();
        List<ClientInfo> who = zk.whoAmI();
        expect(who.contains(new ClientInfo("ip", "127.0.0.1")), "whoAmI without auth: " + who);
        zk.addAuthInfo("digest", b("bob:pw"));
        who = zk.whoAmI();
        expect(who.contains(new ClientInfo("digest", "bob")), "whoAmI after digest auth: " + who);
        expect(who.contains(new ClientInfo("ip", "127.0.0.1")), "ip identity kept: " + who);
        zk.close();
    }

    static boolean waitGone(ZooKeeper zk, String p, long ms) throws Exception {
        long end = System.currentTimeMillis() + ms;
        while (System.currentTimeMillis() < end) {
            if (zk.exists(p, false) == null) {
                return true;
            }
            Thread.sleep(200);
        }
        return false;
    }

    static void checkContainer(ZooKeeper zk) throws Exception {
        String c = base + "/container";
        String never = base + "/container-never-used";
        zk.create(c, null, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
        zk.create(never, null, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
        Stat st = zk.exists(c, false);
        // The container marker is stored, but clients see ephemeralOwner 0.
        expectEq(0L, st.getEphemeralOwner(), "container ephemeralOwner");
        zk.create(c + "/kid", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        Thread.sleep(1500); // a container with a child stays
        expect(zk.exists(c, false) != null, "container with a child was removed");
        zk.delete(c + "/kid", -1);
        expect(waitGone(zk, c, 12000), "emptied container still there after 12s");
        // A container that never had a child is kept (maxNeverUsedIntervalMs=0).
        expect(zk.exists(never, false) != null, "never-used container was removed");
    }

    static void checkTTL(ZooKeeper zk) throws Exception {
        String p = base + "/ttl";
        Stat st = new Stat();
        long ttl = 500;
        zk.create(p, b("t"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, st, ttl);
        // The TTL is stored in ephemeralOwner, but clients see 0.
        expectEq(0L, st.getEphemeralOwner(), "TTL node ephemeralOwner (create stat)");
        expectEq(0L, zk.exists(p, false).getEphemeralOwner(), "TTL node ephemeralOwner (exists)");
        String seq = zk.create(p + "-seq-", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, new Stat(), 60000);
        expect(seq.matches(".*-seq-\\d{10}$"), "sequential TTL name " + seq);
        expect(waitGone(zk, p, 12000), "TTL node still there after 12s");
        expect(zk.exists(seq, false) != null, "TTL node with 60s ttl removed early");
    }

    static void checkSync(ZooKeeper zk) throws Exception {
        String p = base + "/sync";
        zk.create(p, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        CountDownLatch done = new CountDownLatch(1);
        AtomicInteger rc = new AtomicInteger(Integer.MIN_VALUE);
        AtomicReference<String> path = new AtomicReference<>();
        zk.sync(p, (code, syncedPath, ctx) -> {
            rc.set(code);
            path.set(syncedPath);
            done.countDown();
        }, null);
        expect(done.await(10, TimeUnit.SECONDS), "sync callback within 10s");
        expectEq(0, rc.get(), "sync rc");
        expectEq(p, path.get(), "sync path");
    }
}
