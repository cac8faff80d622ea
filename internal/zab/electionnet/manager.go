// Package electionnet is the leader-election transport (ZooKeeper's
// QuorumCnxManager): one TCP connection per pair of servers, opened by the
// higher sid, carrying length-framed election messages.
package electionnet

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"
)

// protocolVersion is the handshake's first long ("V1", quorum.md §1.1).
const protocolVersion int64 = -65536

// MaxMessage bounds an election message (PACKETMAXSIZE, 512 KiB).
const MaxMessage = 512 << 10

// Message is one received election message.
type Message struct {
	From    int64
	Payload []byte
}

// Manager owns the election connections of one server.
type Manager struct {
	self  int64
	addr  string
	peers map[int64]string
	lg    *zap.Logger
	// DialTimeout is cnxTimeout (default 5 s).
	DialTimeout time.Duration

	ln   net.Listener
	recv chan Message
	quit chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns map[int64]*peerConn
	last  map[int64][]byte // last message sent to each peer, re-sent on reconnect
	dial  map[int64]bool   // dials in progress
}

type peerConn struct {
	sid  int64
	nc   net.Conn
	out  chan []byte
	once sync.Once
	done chan struct{}
}

func (p *peerConn) close() {
	p.once.Do(func() {
		close(p.done)
		p.nc.Close()
	})
}

// New listens on listenAddr; peers maps the other voters' sids to their
// election addresses.
func New(self int64, listenAddr string, peers map[int64]string, lg *zap.Logger) (*Manager, error) {
	if lg == nil {
		lg = zap.NewNop()
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("electionnet: listen on %s: %w", listenAddr, err)
	}
	return &Manager{
		self: self, addr: listenAddr, peers: peers, lg: lg.With(zap.String("component", "election")),
		DialTimeout: 5 * time.Second, ln: ln,
		recv: make(chan Message, 1024), quit: make(chan struct{}),
		conns: map[int64]*peerConn{}, last: map[int64][]byte{}, dial: map[int64]bool{},
	}, nil
}

// Start accepts connections and dials every peer.
func (m *Manager) Start() {
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.acceptLoop() }()
	m.ConnectAll()
}

// Recv delivers received messages.
func (m *Manager) Recv() <-chan Message { return m.recv }

// Send queues payload for peer to (to == self is delivered locally).
func (m *Manager) Send(to int64, payload []byte) {
	if to == m.self {
		m.deliver(Message{From: m.self, Payload: payload})
		return
	}
	m.mu.Lock()
	m.last[to] = payload
	pc := m.conns[to]
	m.mu.Unlock()
	if pc == nil {
		m.connect(to)
		return
	}
	select {
	case pc.out <- payload:
	default: // queue full: the election re-sends
	}
}

func (m *Manager) deliver(msg Message) {
	select {
	case m.recv <- msg:
	case <-m.quit:
	default: // receiver overloaded; election messages are re-sent
	}
}

// ConnectAll dials every peer without a connection.
func (m *Manager) ConnectAll() {
	for sid := range m.peers {
		m.mu.Lock()
		has := m.conns[sid] != nil
		m.mu.Unlock()
		if !has {
			m.connect(sid)
		}
	}
}

// connect dials a peer unless it must dial us (only the larger sid's
// connection survives).
func (m *Manager) connect(sid int64) {
	// Either side may dial; a connection from the lower sid is closed by
	// the higher one, which dials back, so only one per pair survives.
	addr, ok := m.peers[sid]
	if !ok {
		return
	}
	m.mu.Lock()
	if m.dial[sid] || m.conns[sid] != nil {
		m.mu.Unlock()
		return
	}
	m.dial[sid] = true
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() {
			m.mu.Lock()
			delete(m.dial, sid)
			m.mu.Unlock()
		}()
		nc, err := net.DialTimeout("tcp", addr, m.DialTimeout)
		if err != nil {
			return
		}
		if err := m.writeHandshake(nc); err != nil {
			nc.Close()
			return
		}
		if sid > m.self {
			// The higher sid keeps its own connection: it will dial back.
			nc.Close()
			return
		}
		m.add(sid, nc)
	}()
}

func (m *Manager) writeHandshake(nc net.Conn) error {
	b := make([]byte, 0, 20+len(m.addr))
	version := protocolVersion
	b = binary.BigEndian.AppendUint64(b, uint64(version))
	b = binary.BigEndian.AppendUint64(b, uint64(m.self))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.addr)))
	b = append(b, m.addr...)
	_ = nc.SetWriteDeadline(time.Now().Add(m.DialTimeout))
	_, err := nc.Write(b)
	_ = nc.SetWriteDeadline(time.Time{})
	return err
}

func (m *Manager) acceptLoop() {
	for {
		nc, err := m.ln.Accept()
		if err != nil {
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			sid, err := m.readHandshake(nc)
			if err != nil {
				m.lg.Debug("bad election handshake", zap.Error(err))
				nc.Close()
				return
			}
			if sid < m.self {
				// Only connections from larger sids survive: dial it back.
				nc.Close()
				m.connect(sid)
				return
			}
			m.add(sid, nc)
		}()
	}
}

func (m *Manager) readHandshake(nc net.Conn) (int64, error) {
	_ = nc.SetReadDeadline(time.Now().Add(m.DialTimeout))
	defer func() { _ = nc.SetReadDeadline(time.Time{}) }()
	var hdr [8]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		return 0, err
	}
	first := int64(binary.BigEndian.Uint64(hdr[:]))
	if first >= 0 {
		return first, nil // pre-3.5 peers send only their sid
	}
	if first != protocolVersion && first != protocolVersion+1 {
		return 0, fmt.Errorf("electionnet: unknown protocol version %d", first)
	}
	var rest [12]byte
	if _, err := io.ReadFull(nc, rest[:]); err != nil {
		return 0, err
	}
	sid := int64(binary.BigEndian.Uint64(rest[:8]))
	n := int32(binary.BigEndian.Uint32(rest[8:]))
	if n <= 0 || n > 2048 {
		return 0, fmt.Errorf("electionnet: bad address length %d", n)
	}
	if _, err := io.CopyN(io.Discard, nc, int64(n)); err != nil {
		return 0, err
	}
	return sid, nil
}

// add registers a connection, replacing an older one to the same peer,
// and re-sends the last message to it.
func (m *Manager) add(sid int64, nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	pc := &peerConn{sid: sid, nc: nc, out: make(chan []byte, 256), done: make(chan struct{})}
	m.mu.Lock()
	select {
	case <-m.quit:
		m.mu.Unlock()
		nc.Close()
		return
	default:
	}
	if old := m.conns[sid]; old != nil {
		old.close()
	}
	m.conns[sid] = pc
	last := m.last[sid]
	m.mu.Unlock()
	if last != nil {
		pc.out <- last
	}
	m.wg.Add(2)
	go func() { defer m.wg.Done(); m.sendLoop(pc) }()
	go func() { defer m.wg.Done(); m.recvLoop(pc) }()
}

func (m *Manager) drop(pc *peerConn) {
	pc.close()
	m.mu.Lock()
	if m.conns[pc.sid] == pc {
		delete(m.conns, pc.sid)
	}
	m.mu.Unlock()
}

func (m *Manager) sendLoop(pc *peerConn) {
	defer m.drop(pc)
	w := bufio.NewWriter(pc.nc)
	for {
		select {
		case <-pc.done:
			return
		case <-m.quit:
			return
		case msg := <-pc.out:
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(len(msg)))
			w.Write(hdr[:])
			w.Write(msg)
			if len(pc.out) == 0 {
				if err := w.Flush(); err != nil {
					return
				}
			}
		}
	}
}

// ErrBadLength is a framing violation; the connection is closed.
var ErrBadLength = errors.New("electionnet: bad message length")

func (m *Manager) recvLoop(pc *peerConn) {
	defer m.drop(pc)
	r := bufio.NewReader(pc.nc)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := int32(binary.BigEndian.Uint32(hdr[:]))
		if n <= 0 || n > MaxMessage {
			m.lg.Warn("closing election connection", zap.Int64("peer", pc.sid), zap.Error(ErrBadLength), zap.Int32("length", n))
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		m.deliver(Message{From: pc.sid, Payload: buf})
	}
}

// Close stops everything and waits.
func (m *Manager) Close() {
	m.mu.Lock()
	select {
	case <-m.quit:
		m.mu.Unlock()
		return
	default:
	}
	close(m.quit)
	conns := make([]*peerConn, 0, len(m.conns))
	for _, pc := range m.conns {
		conns = append(conns, pc)
	}
	m.mu.Unlock()
	m.ln.Close()
	for _, pc := range conns {
		pc.close()
	}
	m.wg.Wait()
}
