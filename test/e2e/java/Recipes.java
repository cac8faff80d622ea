// Recipes runs the ZooKeeper recipes shipped with the server (lock,
// leader election, queue) with several contending client sessions.
// Usage: java Recipes host:port /base/path
// Prints "PASS <check>" or "FAIL <check>: <reason>" per check and exits 1
// if any check failed.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.recipes.leader.LeaderElectionSupport;
import org.apache.zookeeper.recipes.leader.LeaderElectionSupport.EventType;
import org.apache.zookeeper.recipes.lock.LockListener;
import org.apache.zookeeper.recipes.lock.WriteLock;
import org.apache.zookeeper.recipes.queue.DistributedQueue;

public class Recipes {
    static String hosts;
    static String base;
    static int failures;
    static final List<ZooKeeper> sessions = Collections.synchronizedList(new ArrayList<>());

    interface Check {
        void run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Recipes host:port /base");
            System.exit(2);
        }
        hosts = args[0];
        base = args[1];
        ZooKeeper zk = connect();
        zk.create(base, new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);

        check("write-lock-mutual-exclusion", () -> checkLock(zk));
        check("leader-election", () -> checkElection(zk));
        check("distributed-queue-fifo", () -> checkQueueFifo(zk));
        check("distributed-queue-contending-consumers", () -> checkQueueConsumers(zk));

        for (ZooKeeper s : new ArrayList<>(sessions)) {
            try {
                s.close(2000);
            } catch (Exception e) {
                // best effort
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

    // checkLock has several sessions contend for one WriteLock and checks
    // that at most one holds it at any time and that every one gets it.
    static void checkLock(ZooKeeper admin) throws Exception {
        final String dir = base + "/lock";
        final int clients = 4;
        final AtomicInteger holders = new AtomicInteger();
        final AtomicInteger maxHolders = new AtomicInteger();
        final List<Integer> order = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<?>> done = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            final int id = i;
            done.add(pool.submit(() -> {
                ZooKeeper zk = connect();
                CountDownLatch acquired = new CountDownLatch(1);
                WriteLock lock = new WriteLock(zk, dir, Ids.OPEN_ACL_UNSAFE, new LockListener() {
                    public void lockAcquired() {
                        acquired.countDown();
                    }

                    public void lockReleased() {
                    }
                });
                lock.lock();
                expect(acquired.await(30, TimeUnit.SECONDS), "client " + id + " never got the lock");
                expect(lock.isOwner(), "client " + id + " notified but not owner");
                int now = holders.incrementAndGet();
                maxHolders.accumulateAndGet(now, Math::max);
                Thread.sleep(150);
                holders.decrementAndGet();
                order.add(id);
                lock.unlock();
                return null;
            }));
        }
        try {
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        expectEq(1, maxHolders.get(), "max simultaneous lock holders");
        expectEq(clients, order.size(), "clients that held the lock");
        expectEq(0, admin.getChildren(dir, false).size(), "lock nodes left after unlock");
    }

    // checkElection starts three candidates: exactly one is leader and all
    // agree on it; when the leader stops the next one in line takes over.
    static void checkElection(ZooKeeper admin) throws Exception {
        final String root = base + "/election";
        admin.create(root, new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        final int n = 3;
        List<LeaderElectionSupport> candidates = new ArrayList<>();
        List<BlockingQueue<EventType>> events = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            LeaderElectionSupport les = new LeaderElectionSupport();
            BlockingQueue<EventType> q = new LinkedBlockingQueue<>();
            les.setZooKeeper(connect());
            les.setRootNodeName(root);
            les.setHostName("host" + i);
            les.addListener(q::add);
            candidates.add(les);
            events.add(q);
        }
        for (LeaderElectionSupport les : candidates) {
            les.start();
        }
        // Offers are ordered by their sequence numbers: the first to start leads.
        awaitEvent(events.get(0), EventType.ELECTED_COMPLETE, "host0");
        awaitEvent(events.get(1), EventType.READY_COMPLETE, "host1");
        awaitEvent(events.get(2), EventType.READY_COMPLETE, "host2");
        for (LeaderElectionSupport les : candidates) {
            expectEq("host0", les.getLeaderHostName(), "leader seen by " + les.getHostName());
        }
        expectEq(n, admin.getChildren(root, false).size(), "offers");

        candidates.get(0).stop();
        awaitEvent(events.get(1), EventType.ELECTED_COMPLETE, "host1 after host0 stopped");
        expect(!events.get(2).contains(EventType.ELECTED_COMPLETE), "host2 elected while host1 was next");
        expectEq("host1", candidates.get(2).getLeaderHostName(), "new leader seen by host2");

        candidates.get(1).stop();
        awaitEvent(events.get(2), EventType.ELECTED_COMPLETE, "host2 after host1 stopped");
        candidates.get(2).stop();
        expectEq(0, admin.getChildren(root, false).size(), "offers left after stop");
    }

    static void awaitEvent(BlockingQueue<EventType> q, EventType want, String who) throws InterruptedException {
        long end = System.currentTimeMillis() + 15000;
        List<EventType> seen = new ArrayList<>();
        while (System.currentTimeMillis() < end) {
            EventType e = q.poll(200, TimeUnit.MILLISECONDS);
            if (e == null) {
                continue;
            }
            seen.add(e);
            if (e == EventType.FAILED) {
                throw new AssertionError(who + ": election FAILED; events " + seen);
            }
            if (e == want) {
                return;
            }
        }
        throw new AssertionError(who + ": no " + want + " within 15s; events " + seen);
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static void checkQueueFifo(ZooKeeper zk) throws Exception {
        String dir = base + "/queue-fifo";
        zk.create(dir, new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        DistributedQueue q = new DistributedQueue(zk, dir, Ids.OPEN_ACL_UNSAFE);
        expectEq(null, q.peek(), "peek on empty queue");
        expectEq(null, q.poll(), "poll on empty queue");
        try {
            q.element();
            throw new AssertionError("element on empty queue did not throw");
        } catch (NoSuchElementException expected) {
            // fine
        }
        for (String item : new String[]{"a", "b", "c"}) {
            expect(q.offer(b(item)), "offer " + item);
        }
        expectEq("a", s(q.peek()), "peek");
        expectEq("a", s(q.remove()), "remove 1");
        expectEq("b", s(q.take()), "take 2");
        expectEq("c", s(q.poll()), "poll 3");
        expectEq(null, q.poll(), "poll after drain");
    }

    // checkQueueConsumers has two sessions take() from one queue while a
    // third produces: each item is consumed exactly once, in order per consumer.
    static void checkQueueConsumers(ZooKeeper admin) throws Exception {
        final String dir = base + "/queue";
        admin.create(dir, new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        final int items = 20;
        final int consumers = 2;
        ExecutorService pool = Executors.newFixedThreadPool(consumers);
        List<Future<List<Integer>>> results = new ArrayList<>();
        for (int c = 0; c < consumers; c++) {
            results.add(pool.submit(() -> {
                DistributedQueue q = new DistributedQueue(connect(), dir, Ids.OPEN_ACL_UNSAFE);
                List<Integer> got = new ArrayList<>();
                for (;;) {
                    String item = s(q.take());
                    if (item.equals("STOP")) {
                        return got;
                    }
                    got.add(Integer.parseInt(item));
                }
            }));
        }
        DistributedQueue producer = new DistributedQueue(connect(), dir, Ids.OPEN_ACL_UNSAFE);
        for (int i = 0; i < items; i++) {
            producer.offer(b(Integer.toString(i)));
            if (i % 5 == 4) {
                Thread.sleep(50); // let consumers block on an empty queue now and then
            }
        }
        for (int c = 0; c < consumers; c++) {
            producer.offer(b("STOP"));
        }
        List<Integer> all = new ArrayList<>();
        try {
            for (Future<List<Integer>> f : results) {
                List<Integer> got = f.get(60, TimeUnit.SECONDS);
                List<Integer> sorted = new ArrayList<>(got);
                Collections.sort(sorted);
                expectEq(sorted, got, "a consumer received items out of order");
                all.addAll(got);
            }
        } finally {
            pool.shutdownNow();
        }
        Collections.sort(all);
        List<Integer> want = new ArrayList<>();
        for (int i = 0; i < items; i++) {
            want.add(i);
        }
        expectEq(want, all, "items consumed exactly once");
        expectEq(0, admin.getChildren(dir, false).size(), "queue empty at the end");
    }
}
