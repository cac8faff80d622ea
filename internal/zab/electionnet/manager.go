package electionnet

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Handshake and framing constants (quorum.md §1).
const (
	// ProtocolVersionV1 starts every handshake zkd sends ("V1"): Java 3.8
	// sends it unless multiAddress.enabled=true.
	ProtocolVersionV1 int64 = -65536
	// ProtocolVersionV2 is accepted: the same handshake with several
	// addresses joined by "|".
	ProtocolVersionV2 int64 = -65535
	// MaxMessageSize is PACKETMAXSIZE: a longer (or empty) frame closes the
	// connection.
	MaxMessageSize = 512 * 1024
	// maxAddrLen bounds the address in a handshake.
	maxAddrLen = 2048
	// observerID is QuorumPeer.OBSERVER_ID, which a legacy observer
	// announces instead of its sid.
	observerID = math.MaxInt64
	// DefaultCnxTimeout is cnxTimeout: the dial timeout, and here also the
	// timeout for reading and writing a handshake.
	DefaultCnxTimeout = 5000 * time.Millisecond
	// DefaultSendQueueSize bounds each peer's send queue; when full the
	// oldest message is dropped. Java keeps one message (SEND_CAPACITY);
	// FLE only needs the newest, but a little slack keeps a burst of
	// different messages intact.
	DefaultSendQueueSize = 16
	// DefaultRecvQueueSize is RECV_CAPACITY: when Recv is not drained the
	// oldest received message is dropped.
	DefaultRecvQueueSize = 100
)

// Message is one received payload and the sid of the peer it came from.
type Message struct {
	From    int64
	Payload []byte
}

// Option changes a Manager's defaults.
type Option func(*Manager)

// WithCnxTimeout sets cnxTimeout (default 5000 ms).
func WithCnxTimeout(d time.Duration) Option { return func(m *Manager) { m.cnxTimeout = d } }

// WithSendQueueSize sets the per-peer send queue bound (default 16).
func WithSendQueueSize(n int) Option { return func(m *Manager) { m.sendQueueSize = max(n, 1) } }

// WithListener makes the Manager accept on ln (which it then owns and
// closes) instead of listening on listenAddr; useful to hold a port from
// before the peers' addresses are known.
func WithListener(ln net.Listener) Option { return func(m *Manager) { m.ln = ln } }

// WithRecvQueueSize sets the receive queue bound (default 100).
func WithRecvQueueSize(n int) Option { return func(m *Manager) { m.recvQueueSize = max(n, 1) } }

// ErrClosed is returned by Start on a closed Manager.
var ErrClosed = errors.New("electionnet: manager closed")

// Manager is the election transport of one server. Its methods are safe for
// concurrent use.
type Manager struct {
	self          int64
	peers         map[int64]string
	lg            *zap.Logger
	cnxTimeout    time.Duration
	sendQueueSize int
	recvQueueSize int

	ln     net.Listener
	addr   string // our election address as sent in handshakes
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// recvMu orders deliveries into recv with Close closing it.
	recvMu     sync.Mutex
	recv       chan Message
	recvClosed bool

	mu      sync.Mutex
	started bool
	closed  bool
	// conns holds the one live connection per peer. Invariant: a conn is
	// in conns only while its sender and receiver run.
	conns map[int64]*conn
	// lost holds the peers whose live connection ended and has not been
	// replaced since: known gone, unlike peers never connected yet.
	lost map[int64]bool
	// queues outlive connections: messages wait here while a peer is
	// unreachable.
	queues map[int64]*sendQueue
	// lastSent is the last message taken from each peer's queue for
	// writing, re-sent when a new connection starts with an empty queue (the
	// peer may have lost it with the old connection; FLE tolerates
	// duplicates).
	lastSent map[int64][]byte
	// dialing marks peers with a dial in progress (value: that dial's
	// number), so that at most one runs per peer.
	dialing map[int64]uint64
	dials   uint64
	// pending are accepted sockets still in their handshake.
	pending map[net.Conn]struct{}
	// seq numbers connections in the order they were accepted (or, for
	// dialed ones, installed): handshakes run concurrently, and only a
	// newer connection may replace an older one.
	seq uint64
	// nextTmpID numbers legacy observers that announce OBSERVER_ID.
	nextTmpID int64
}

// New listens on listenAddr (host:port; port 0 picks a free one) and returns
// a Manager for server self. peers maps every other member's sid to its
// election address; it may include self, which is ignored. lg may be nil.
// Call Start to accept connections and Close to release everything.
func New(self int64, listenAddr string, peers map[int64]string, lg *zap.Logger, opts ...Option) (*Manager, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	m := &Manager{
		self:          self,
		peers:         make(map[int64]string, len(peers)),
		lg:            lg.With(zap.Int64("myid", self)),
		cnxTimeout:    DefaultCnxTimeout,
		sendQueueSize: DefaultSendQueueSize,
		recvQueueSize: DefaultRecvQueueSize,
		conns:         map[int64]*conn{},
		queues:        map[int64]*sendQueue{},
		lastSent:      map[int64][]byte{},
		dialing:       map[int64]uint64{},
		pending:       map[net.Conn]struct{}{},
		nextTmpID:     -1,
	}
	for sid, a := range peers {
		if sid != self {
			m.peers[sid] = a
		}
	}
	for _, o := range opts {
		o(m)
	}
	if m.ln == nil {
		ln, err := net.Listen("tcp", listenAddr)
		if err != nil {
			return nil, fmt.Errorf("electionnet: listen on election address %s: %w", listenAddr, err)
		}
		m.ln = ln
	}
	m.addr = m.ln.Addr().String()
	m.recv = make(chan Message, m.recvQueueSize)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// Addr returns the address the Manager listens on.
func (m *Manager) Addr() net.Addr { return m.ln.Addr() }

// Start begins accepting connections. Connections to peers are opened on
// demand by Send and ConnectAll.
func (m *Manager) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.started {
		return nil
	}
	m.started = true
	m.wg.Add(1)
	go m.acceptLoop()
	return nil
}

// Recv returns the channel of received messages, including those sent to
// ourselves. It is closed by Close.
func (m *Manager) Recv() <-chan Message { return m.recv }

// Send queues payload for peer to and opens a connection if there is none.
// A message to ourselves is delivered to Recv directly. Send never blocks on
// the network: a full queue drops its oldest message. payload must not be
// modified afterwards.
func (m *Manager) Send(to int64, payload []byte) {
	if len(payload) == 0 || len(payload) > MaxMessageSize {
		m.lg.Warn("not sending a message of invalid size", zap.Int64("sid", to), zap.Int("size", len(payload)))
		return
	}
	if to == m.self {
		m.deliver(Message{From: m.self, Payload: payload})
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	q := m.queueLocked(to)
	m.mu.Unlock()
	q.push(payload)
	m.connectOne(to)
}

// ConnectAll dials every peer that has no connection (the election's
// reaction to a notification timeout with undelivered messages).
func (m *Manager) ConnectAll() {
	for _, sid := range m.peerIDs() {
		m.connectOne(sid)
	}
}

// HaveDelivered is QuorumCnxManager.haveDelivered: true when some peer's
// send queue is empty (Java checks "some", not "all"), or there are no
// queues. The election re-sends when it is true and reconnects otherwise.
func (m *Manager) HaveDelivered() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.queues) == 0 {
		return true
	}
	for _, q := range m.queues {
		if q.len() == 0 {
			return true
		}
	}
	return false
}

// Connected returns the sids with a live connection, ascending.
func (m *Manager) Connected() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return sortedSids(m.conns)
}

// Lost returns the peers whose connection ended and has not come back,
// ascending. A peer that was never connected is not in it: at startup it
// may just not be up yet.
func (m *Manager) Lost() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return sortedSids(m.lost)
}

// sortedSids lists a map's sids in ascending order.
func sortedSids[V any](m map[int64]V) []int64 {
	out := slices.AppendSeq(make([]int64, 0, len(m)), maps.Keys(m))
	slices.Sort(out)
	return out
}

// Close stops listening, closes every connection and waits for every
// goroutine of the Manager to end; then Recv is closed. Messages still
// queued are dropped.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.cancel()
	err := m.ln.Close()
	for _, c := range m.conns {
		c.close()
	}
	for nc := range m.pending {
		nc.Close()
	}
	m.mu.Unlock()

	m.wg.Wait()
	m.recvMu.Lock()
	m.recvClosed = true
	close(m.recv)
	m.recvMu.Unlock()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("electionnet: close listener: %w", err)
	}
	return nil
}

func (m *Manager) peerIDs() []int64 { return sortedSids(m.peers) }

// queueLocked returns sid's send queue, creating it. m.mu must be held.
func (m *Manager) queueLocked(sid int64) *sendQueue {
	q := m.queues[sid]
	if q == nil {
		q = newSendQueue(m.sendQueueSize)
		m.queues[sid] = q
	}
	return q
}

// deliver puts msg on the receive queue, dropping the oldest message when
// the queue is full, as Java's addToRecvQueue does; it never blocks, so a
// slow election cannot stall the receivers.
func (m *Manager) deliver(msg Message) {
	m.recvMu.Lock()
	defer m.recvMu.Unlock()
	if m.recvClosed {
		return
	}
	for {
		select {
		case m.recv <- msg:
			return
		default:
		}
		select {
		case old := <-m.recv:
			m.lg.Debug("receive queue full, dropped oldest message", zap.Int64("sid", old.From))
		default:
		}
	}
}

// connectOne dials sid unless it is connected, being dialed, or unknown.
func (m *Manager) connectOne(sid int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.conns[sid] != nil || m.dialing[sid] != 0 {
		return
	}
	addr, ok := m.peers[sid]
	if !ok {
		m.lg.Warn("cannot connect to unknown server id", zap.Int64("sid", sid))
		return
	}
	m.dials++
	m.dialing[sid] = m.dials
	m.wg.Add(1)
	go m.dial(sid, addr, m.dials)
}

// dial opens a connection to sid and writes the handshake. Only a
// connection to a smaller sid is kept; a larger sid will close ours and
// dial back (quorum.md §1.1).
func (m *Manager) dial(sid int64, addr string, id uint64) {
	defer m.wg.Done()
	defer func() {
		m.mu.Lock()
		m.endDialLocked(sid, id)
		m.mu.Unlock()
	}()
	d := net.Dialer{Timeout: m.cnxTimeout}
	nc, err := d.DialContext(m.ctx, "tcp", addr)
	if err != nil {
		if m.ctx.Err() == nil {
			m.lg.Info("cannot open channel to election peer", zap.Int64("sid", sid), zap.String("addr", addr), zap.Error(err))
		}
		return
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if err := m.writeHandshake(nc); err != nil {
		m.lg.Info("cannot write election handshake", zap.Int64("sid", sid), zap.Error(err))
		nc.Close()
		return
	}
	if sid > m.self {
		m.lg.Debug("smaller sid, dropping own connection and waiting for the peer to dial", zap.Int64("sid", sid))
		nc.Close()
		return
	}
	m.install(sid, nc, bufio.NewReader(nc), 0, id)
}

// endDialLocked clears the dialing mark of dial id. It is cleared in the
// same critical section that installs the connection: otherwise the
// acceptor rule could close that connection and find the peer still marked
// as being dialed, and nobody would dial it again.
func (m *Manager) endDialLocked(sid int64, id uint64) {
	if m.dialing[sid] == id {
		delete(m.dialing, sid)
	}
}

func (m *Manager) writeHandshake(nc net.Conn) error {
	b := make([]byte, 0, 20+len(m.addr))
	version := ProtocolVersionV1
	b = binary.BigEndian.AppendUint64(b, uint64(version))
	b = binary.BigEndian.AppendUint64(b, uint64(m.self))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.addr)))
	b = append(b, m.addr...)
	if err := nc.SetWriteDeadline(time.Now().Add(m.cnxTimeout)); err != nil {
		return fmt.Errorf("electionnet: handshake deadline: %w", err)
	}
	if _, err := nc.Write(b); err != nil {
		return fmt.Errorf("electionnet: write handshake: %w", err)
	}
	if err := nc.SetWriteDeadline(time.Time{}); err != nil {
		return fmt.Errorf("electionnet: handshake deadline: %w", err)
	}
	return nil
}

func (m *Manager) acceptLoop() {
	defer m.wg.Done()
	for {
		nc, err := m.ln.Accept()
		if err != nil {
			if m.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			m.lg.Warn("election accept failed", zap.Error(err))
			select {
			case <-m.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			nc.Close()
			return
		}
		m.pending[nc] = struct{}{}
		m.seq++
		seq := m.seq
		m.wg.Add(1)
		m.mu.Unlock()
		go m.handleIncoming(nc, seq)
	}
}

// handleIncoming reads an initiator's handshake and applies the larger-sid
// rule (QuorumCnxManager.handleConnection).
func (m *Manager) handleIncoming(nc net.Conn, seq uint64) {
	defer m.wg.Done()
	keep := false
	defer func() {
		m.mu.Lock()
		delete(m.pending, nc)
		m.mu.Unlock()
		if !keep {
			nc.Close()
		}
	}()
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	br := bufio.NewReader(nc)
	if err := nc.SetReadDeadline(time.Now().Add(m.cnxTimeout)); err != nil {
		return
	}
	sid, err := readHandshake(br)
	if err != nil {
		m.lg.Warn("bad election handshake", zap.String("remote", nc.RemoteAddr().String()), zap.Error(err))
		return
	}
	if err := nc.SetReadDeadline(time.Time{}); err != nil {
		return
	}
	if sid == observerID {
		m.mu.Lock()
		sid = m.nextTmpID
		m.nextTmpID--
		m.mu.Unlock()
		m.lg.Info("setting arbitrary identifier to observer", zap.Int64("sid", sid))
	}
	switch {
	case sid < m.self:
		// We win the challenge: drop this connection (and any stale one we
		// still think is up) and open our own.
		m.lg.Debug("larger sid, closing the peer's connection and dialing it", zap.Int64("sid", sid))
		m.mu.Lock()
		if c := m.conns[sid]; c != nil {
			c.close()
			delete(m.conns, sid) // so that connectOne dials now
		}
		m.mu.Unlock()
		nc.Close()
		m.connectOne(sid)
	case sid == m.self:
		m.lg.Warn("connection request from a server with our own id: configuration error or bug", zap.Int64("sid", sid))
	default:
		keep = m.install(sid, nc, br, seq, 0)
	}
}

// readHandshake reads the initiator's first bytes: a protocol version then
// sid, addrLen, addr; or, from pre-3.5 servers, a bare non-negative sid.
func readHandshake(r io.Reader) (int64, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("read protocol version: %w", err)
	}
	version := int64(binary.BigEndian.Uint64(b[:]))
	if version >= 0 {
		return version, nil
	}
	if version != ProtocolVersionV1 && version != ProtocolVersionV2 {
		return 0, fmt.Errorf("unknown protocol version %d", version)
	}
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("read sid: %w", err)
	}
	sid := int64(binary.BigEndian.Uint64(b[:]))
	if _, err := io.ReadFull(r, b[:4]); err != nil {
		return 0, fmt.Errorf("read address length: %w", err)
	}
	n := int32(binary.BigEndian.Uint32(b[:4]))
	if n <= 0 || n > maxAddrLen {
		return 0, fmt.Errorf("address length %d out of range 1..%d", n, maxAddrLen)
	}
	addr := make([]byte, n)
	if _, err := io.ReadFull(r, addr); err != nil {
		return 0, fmt.Errorf("read address: %w", err)
	}
	for _, a := range strings.Split(string(addr), "|") {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return 0, fmt.Errorf("election address %q: %w", a, err)
		}
	}
	return sid, nil
}

// install makes nc the connection to sid, replacing any older one, and
// starts its sender and receiver. seq is the accept order of an accepted
// socket, 0 for a dialed one (which takes the next number); dialID is the
// dial that opened it, 0 for an accepted one. It reports false
// if nc was not kept: the Manager is closing, or a connection accepted after
// nc already finished its handshake.
func (m *Manager) install(sid int64, nc net.Conn, br *bufio.Reader, seq, dialID uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.endDialLocked(sid, dialID)
	if m.closed {
		nc.Close()
		return false
	}
	if seq == 0 {
		m.seq++
		seq = m.seq
	}
	if old := m.conns[sid]; old != nil {
		if old.seq > seq {
			m.lg.Debug("dropping a connection overtaken by a newer one", zap.Int64("sid", sid))
			nc.Close()
			return false
		}
		old.close()
	}
	c := &conn{sid: sid, nc: nc, seq: seq, done: make(chan struct{})}
	m.conns[sid] = c
	delete(m.lost, sid)
	q := m.queueLocked(sid)
	m.wg.Add(2)
	go m.sender(c, q)
	go m.receiver(c, br)
	m.lg.Info("election connection established", zap.Int64("sid", sid), zap.String("remote", nc.RemoteAddr().String()))
	return true
}

// drop ends c and forgets it unless a newer connection replaced it.
func (m *Manager) drop(c *conn) {
	c.close()
	m.mu.Lock()
	if m.conns[c.sid] == c {
		delete(m.conns, c.sid)
		if m.lost == nil {
			m.lost = map[int64]bool{}
		}
		m.lost[c.sid] = true
	}
	m.mu.Unlock()
}

// sender writes sid's queue to c. A new connection with an empty queue
// first repeats the last message sent to that peer, which the old
// connection may have lost.
func (m *Manager) sender(c *conn, q *sendQueue) {
	defer m.wg.Done()
	defer m.drop(c)
	if q.len() == 0 {
		m.mu.Lock()
		last := m.lastSent[c.sid]
		m.mu.Unlock()
		if last != nil {
			if err := c.write(last); err != nil {
				m.lg.Debug("election send failed", zap.Int64("sid", c.sid), zap.Error(err))
				return
			}
		}
	}
	for {
		for {
			// A replaced connection must stop before taking messages
			// meant for its successor.
			select {
			case <-c.done:
				return
			default:
			}
			b, ok := q.pop()
			if !ok {
				break
			}
			// Recorded before the write, as Java does: if the write fails
			// the message is the one the next connection repeats.
			m.mu.Lock()
			m.lastSent[c.sid] = b
			m.mu.Unlock()
			if err := c.write(b); err != nil {
				m.lg.Debug("election send failed", zap.Int64("sid", c.sid), zap.Error(err))
				// The successor connection may already have checked for
				// an empty queue and skipped the re-send: hand it the
				// message directly.
				q.pushFront(b)
				return
			}
		}
		select {
		case <-c.done:
			return
		case <-q.notify:
		}
	}
}

// receiver reads frames from c until it fails or a frame has a bad length.
func (m *Manager) receiver(c *conn, br *bufio.Reader) {
	defer m.wg.Done()
	defer m.drop(c)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			m.lg.Debug("election connection closed", zap.Int64("sid", c.sid), zap.Error(err))
			return
		}
		n := int32(binary.BigEndian.Uint32(hdr[:]))
		if n <= 0 || n > MaxMessageSize {
			m.lg.Warn("received packet with invalid length, closing connection", zap.Int64("sid", c.sid), zap.Int32("length", n))
			return
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			m.lg.Debug("election connection closed inside a message", zap.Int64("sid", c.sid), zap.Error(err))
			return
		}
		// Delivered even if c was just replaced: the peer counts it as
		// sent.
		m.deliver(Message{From: c.sid, Payload: b})
	}
}

// conn is one established connection.
type conn struct {
	sid  int64
	seq  uint64
	nc   net.Conn
	done chan struct{}
	once sync.Once
	// wmu keeps frames whole if two writers ever overlap.
	wmu sync.Mutex
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

// write sends one frame: int length + payload, in one write.
func (c *conn) write(payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := make([]byte, 0, 4+len(payload))
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("electionnet: write to %d: %w", c.sid, err)
	}
	return nil
}

// sendQueue is one peer's bounded FIFO; when full the oldest message goes.
type sendQueue struct {
	mu     sync.Mutex
	items  [][]byte
	limit  int
	notify chan struct{} // one pending wake-up for the current sender
}

func newSendQueue(limit int) *sendQueue {
	return &sendQueue{limit: limit, notify: make(chan struct{}, 1)}
}

func (q *sendQueue) push(b []byte) {
	q.mu.Lock()
	if len(q.items) >= q.limit {
		q.items = q.items[1:]
	}
	q.items = append(q.items, b)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// pushFront returns a message that could not be written to the head of the
// queue, unless the queue filled up meanwhile (then it is the oldest and
// goes).
func (q *sendQueue) pushFront(b []byte) {
	q.mu.Lock()
	if len(q.items) < q.limit {
		q.items = append([][]byte{b}, q.items...)
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *sendQueue) pop() ([]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil, false
	}
	b := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return b, true
}

func (q *sendQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
