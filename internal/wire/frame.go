package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrFrameTooLarge means a frame's length prefix is negative or above the
// limit; the peer should be disconnected without a reply (wire.md §1).
var ErrFrameTooLarge = errors.New("wire: frame length out of range")

// ReadFrame reads one frame: a 4-byte big-endian length N, then N bytes.
// If N < 0 or N > max (max <= 0 means DefaultMaxBuffer) it returns an
// error wrapping ErrFrameTooLarge without reading the payload. The payload
// is read into buf when it fits (buf's capacity), else into a new slice;
// the result aliases buf in the first case. A clean close before the
// length returns io.EOF; a close inside a frame io.ErrUnexpectedEOF.
func ReadFrame(r *bufio.Reader, max int, buf []byte) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxBuffer
	}
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n < 0 || int64(n) > int64(max) {
		return nil, fmt.Errorf("%w: %d", ErrFrameTooLarge, n)
	}
	if cap(buf) >= int(n) {
		buf = buf[:n]
	} else {
		buf = make([]byte, n)
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// AppendFrame appends payload to dst with its 4-byte length prefix.
func AppendFrame(dst []byte, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(clampInt(len(payload))))
	return append(dst, payload...)
}

// BeginFrame reserves a length prefix and returns its offset; encode the
// frame's records, then call EndFrame with that offset.
func (e *Encoder) BeginFrame() int {
	start := len(e.B)
	e.B = append(e.B, 0, 0, 0, 0)
	return start
}

// EndFrame writes the length of everything encoded since BeginFrame into
// the reserved prefix.
func (e *Encoder) EndFrame(start int) {
	binary.BigEndian.PutUint32(e.B[start:], uint32(clampInt(len(e.B)-start-4)))
}

// MarshalFrame encodes records back to back as one frame (e.g. a header
// and a body; nil records are skipped).
func MarshalFrame(recs ...Record) []byte {
	var e Encoder
	start := e.BeginFrame()
	for _, r := range recs {
		if r != nil {
			r.Encode(&e)
		}
	}
	e.EndFrame(start)
	return e.B
}
