// Failover keeps one Java client session open while the test kills the
// ensemble's leader, and checks that the session lives on.
// Usage: java Failover host:port,host:port,... /base/path
//
// It sets up state (an ephemeral node, some writes, data/exists/child
// watches), prints "READY <session id> <server>" and blocks until a line
// arrives on stdin: the test kills the leader in between and writes the
// line once a new leader serves. Then it waits for the client to reconnect
// and prints "PASS <check>" or "FAIL <check>: <reason>" per check; exit 1
// if any check failed.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public class Failover {
    static int failures;

    interface Check {
        void run() throws Exception;
    }

    static void check(String name, Check c) {
        try {
            c.run();
            System.out.println("PASS " + name);
        } catch (Throwable e) {
            failures++;
            System.out.println("FAIL " + name + ": " + String.valueOf(e).replace('\n', ' '));
            e.printStackTrace(System.out);
        }
        System.out.flush();
    }

    static void expect(boolean cond, String msg) {
        if (!cond) {
            throw new AssertionError(msg);
        }
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    // waitEvent takes events until one matches, or fails after 15 s.
    static WatchedEvent waitEvent(BlockingQueue<WatchedEvent> q, EventType type, String path) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        StringBuilder seen = new StringBuilder();
        while (true) {
            long left = end - System.nanoTime();
            WatchedEvent e = left > 0 ? q.poll(left, TimeUnit.NANOSECONDS) : null;
            if (e == null) {
                throw new AssertionError("no " + type + " for " + path + " within 15s; saw [" + seen + "]");
            }
            if (e.getType() == type && path.equals(e.getPath())) {
                return e;
            }
            seen.append(e).append("; ");
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Failover host:port,... /base");
            System.exit(2);
        }
        String hosts = args[0];
        String base = args[1];

        BlockingQueue<KeeperState> states = new LinkedBlockingQueue<>();
        BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
        AtomicInteger expired = new AtomicInteger();
        ZooKeeper zk = new ZooKeeper(hosts, 10000, e -> {
            if (e.getType() == EventType.None) {
                if (e.getState() == KeeperState.Expired) {
                    expired.incrementAndGet();
                }
                states.add(e.getState());
            } else {
                events.add(e);
            }
        });
        KeeperState first = states.poll(20, TimeUnit.SECONDS);
        if (first != KeeperState.SyncConnected) {
            System.out.println("FAIL connect: first state " + first + ", want SyncConnected");
            System.exit(1);
        }
        long sid = zk.getSessionId();
        String eph = base + "/eph";
        String data = base + "/data";
        String created = base + "/new";
        zk.create(base, b("v0"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create(eph, b("e"), Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        zk.create(data, b("d"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        for (int i = 0; i < 10; i++) {
            zk.setData(data, b("d" + i), i);
        }
        // Watches left with the default watcher: they must be re-registered
        // (SetWatches) on whatever server the client reconnects to.
        zk.getData(data, true, null);
        zk.exists(created, true);
        zk.getChildren(base, true);
        System.out.println("READY " + Long.toHexString(sid) + " " + zk);
        System.out.flush();

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line = in.readLine();
        if (line == null) {
            System.out.println("FAIL go: stdin closed before the go-ahead");
            System.exit(1);
        }

        check("disconnected-then-reconnected", () -> {
            // The leader's death drops every client connection: the one to
            // the leader with it, those to followers when they look for a
            // new leader. The client must then connect again.
            boolean down = false;
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            StringBuilder seen = new StringBuilder();
            while (true) {
                long left = end - System.nanoTime();
                KeeperState s = left > 0 ? states.poll(left, TimeUnit.NANOSECONDS) : null;
                if (s == null) {
                    throw new AssertionError("no Disconnected then SyncConnected within 30s; saw [" + seen + "]");
                }
                seen.append(s).append(' ');
                if (s == KeeperState.Disconnected) {
                    down = true;
                } else if (s == KeeperState.SyncConnected && down) {
                    break;
                } else if (s == KeeperState.Expired) {
                    throw new AssertionError("session expired; saw [" + seen + "]");
                }
            }
            System.out.println("reconnected: " + zk);
        });
        check("same-session", () -> {
            expect(zk.getSessionId() == sid, "session id " + Long.toHexString(zk.getSessionId()) + ", want " + Long.toHexString(sid));
            expect(expired.get() == 0, "an Expired event was delivered");
        });
        check("ephemeral-survives", () -> {
            Stat st = zk.exists(eph, false);
            expect(st != null, eph + " is gone");
            expect(st.getEphemeralOwner() == sid, "ephemeralOwner " + Long.toHexString(st.getEphemeralOwner()));
        });
        check("write-after-failover", () -> {
            Stat st = zk.setData(data, b("after"), 10);
            expect(st.getVersion() == 11, "version after the failover write " + st.getVersion());
            expect("after".equals(new String(zk.getData(data, false, null), StandardCharsets.UTF_8)), "data not written");
        });
        check("data-watch-fires", () -> waitEvent(events, EventType.NodeDataChanged, data));

        ZooKeeper[] other = new ZooKeeper[1];
        check("new-session-after-failover", () -> {
            CountDownLatch up = new CountDownLatch(1);
            other[0] = new ZooKeeper(hosts, 10000, e -> {
                if (e.getState() == KeeperState.SyncConnected) {
                    up.countDown();
                }
            });
            expect(up.await(20, TimeUnit.SECONDS), "second session not connected within 20s");
            other[0].create(created, b("n"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        });
        check("exists-watch-fires", () -> waitEvent(events, EventType.NodeCreated, created));
        check("child-watch-fires", () -> waitEvent(events, EventType.NodeChildrenChanged, base));
        check("sync-after-failover", () -> {
            CountDownLatch done = new CountDownLatch(1);
            AtomicInteger rc = new AtomicInteger(Integer.MIN_VALUE);
            zk.sync(base, (code, p, ctx) -> {
                rc.set(code);
                done.countDown();
            }, null);
            expect(done.await(10, TimeUnit.SECONDS), "no sync callback within 10s");
            expect(rc.get() == 0, "sync rc " + rc.get());
            List<String> kids = zk.getChildren(base, false);
            expect(kids.contains("new"), "children after sync " + kids);
        });
        check("close-removes-ephemeral", () -> {
            zk.close(5000);
            expect(other[0] != null, "no second session");
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (other[0].exists(eph, false) != null) {
                expect(System.nanoTime() < end, eph + " still there 10s after its session closed");
                Thread.sleep(50);
            }
        });
        if (other[0] != null) {
            other[0].close(2000);
        }
        System.out.println(failures == 0 ? "ALL PASSED" : failures + " CHECK(S) FAILED");
        System.out.flush();
        System.exit(failures == 0 ? 0 : 1);
    }
}
