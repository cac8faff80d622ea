package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// DefaultMaxBuffer is ZooKeeper's default jute.maxbuffer (0xfffff bytes).
const DefaultMaxBuffer = 0xfffff

// ErrShort means the input ended before the record did.
var ErrShort = errors.New("wire: record truncated")

// ErrTooLong means a nested buffer, string or vector length is negative
// (other than the null marker) or larger than the decoder's limit.
var ErrTooLong = errors.New("wire: length out of range")

// Encoder appends jute encodings to a byte slice. It never fails.
type Encoder struct {
	B []byte
}

// Int writes a big-endian int32.
func (e *Encoder) Int(v int32) { e.B = binary.BigEndian.AppendUint32(e.B, uint32(v)) }

// Long writes a big-endian int64.
func (e *Encoder) Long(v int64) { e.B = binary.BigEndian.AppendUint64(e.B, uint64(v)) }

// Bool writes one byte, 0 or 1.
func (e *Encoder) Bool(v bool) {
	if v {
		e.B = append(e.B, 1)
	} else {
		e.B = append(e.B, 0)
	}
}

// Byte writes one byte.
func (e *Encoder) Byte(v byte) { e.B = append(e.B, v) }

// Buffer writes a length-prefixed buffer; a nil slice is written as the
// null buffer (length -1), an empty non-nil slice as length 0. The
// difference is visible to clients (wire.md §2).
func (e *Encoder) Buffer(v []byte) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	e.B = append(e.B, v...)
}

// String writes a length-prefixed UTF-8 string (never null).
func (e *Encoder) String(v string) {
	e.Int(int32(len(v)))
	e.B = append(e.B, v...)
}

// Strings writes a vector of strings; nil is written as the null vector.
func (e *Encoder) Strings(v []string) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for _, s := range v {
		e.String(s)
	}
}

// Decoder reads jute encodings from a byte slice. The first error sticks:
// once Err is set every further read returns a zero value, so record
// decoders can read all fields and check Err once.
type Decoder struct {
	B   []byte
	Off int
	// Max bounds every nested length (jute.maxbuffer + extrasize); 0 means
	// no bound beyond the input itself.
	Max int
	Err error
}

// NewDecoder returns a decoder over b with nested lengths bounded by max.
func NewDecoder(b []byte, max int) *Decoder { return &Decoder{B: b, Max: max} }

func (d *Decoder) take(n int) []byte {
	if d.Err != nil {
		return nil
	}
	if n < 0 || len(d.B)-d.Off < n {
		d.Err = ErrShort
		return nil
	}
	p := d.B[d.Off : d.Off+n]
	d.Off += n
	return p
}

// Remaining is the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.B) - d.Off }

// Int reads a big-endian int32.
func (d *Decoder) Int() int32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(p))
}

// Long reads a big-endian int64.
func (d *Decoder) Long() int64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

// Bool reads one byte; any non-zero value is true, as in Java's reader.
func (d *Decoder) Bool() bool {
	p := d.take(1)
	return p != nil && p[0] != 0
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *Decoder) length() (int, bool) {
	n := d.Int()
	if d.Err != nil {
		return 0, false
	}
	if n == -1 {
		return -1, true
	}
	if n < 0 || (d.Max > 0 && int(n) > d.Max) {
		d.Err = fmt.Errorf("%w: %d", ErrTooLong, n)
		return 0, false
	}
	return int(n), true
}

// Buffer reads a length-prefixed buffer. The null buffer decodes as nil,
// an empty one as a non-nil empty slice. The result is a copy, safe to keep.
func (d *Decoder) Buffer() []byte {
	n, ok := d.length()
	if !ok || n == -1 {
		return nil
	}
	p := d.take(n)
	if p == nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, p)
	return out
}

// String reads a length-prefixed string; null decodes as "".
func (d *Decoder) String() string {
	n, ok := d.length()
	if !ok || n == -1 {
		return ""
	}
	p := d.take(n)
	return string(p)
}

// Strings reads a vector of strings; null decodes as nil.
func (d *Decoder) Strings() []string {
	n, ok := d.length()
	if !ok || n == -1 {
		return nil
	}
	// Each element takes at least 4 bytes: refuse counts the input cannot hold
	// before allocating.
	if n > d.Remaining()/4 {
		d.Err = ErrShort
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.Err == nil; i++ {
		out = append(out, d.String())
	}
	return out
}

// vectorLen reads a vector count and checks that n elements of at least
// minSize bytes fit in the remaining input. It returns -1 for null.
func (d *Decoder) vectorLen(minSize int) int {
	n, ok := d.length()
	if !ok {
		return 0
	}
	if n == -1 {
		return -1
	}
	if minSize > 0 && n > d.Remaining()/minSize {
		d.Err = ErrShort
		return 0
	}
	return n
}

// Record is anything with a jute encoding.
type Record interface {
	Encode(e *Encoder)
	Decode(d *Decoder)
}

// Marshal encodes r into a new slice.
func Marshal(r Record) []byte {
	var e Encoder
	r.Encode(&e)
	return e.B
}

// Unmarshal decodes b into r, with nested lengths bounded by max (0 = none).
// Trailing bytes are ignored, as the Java server ignores them.
func Unmarshal(b []byte, max int, r Record) error {
	d := NewDecoder(b, max)
	r.Decode(d)
	return d.Err
}

// clampInt keeps an int inside int32 for encoding counts.
func clampInt(n int) int32 {
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(n)
}
