package session

import "github.com/zkd/zkd/internal/wire"

// PasswordLen is the length of a session password in bytes.
const PasswordLen = 16

// passwdSeedXor is ZooKeeperServer's superSecret: the session id is XORed
// with it to seed the password generator.
const passwdSeedXor = 0xB3415C00

// java.util.Random's linear congruential generator constants (documented in
// the JDK's Random javadoc).
const (
	lcgMultiplier = 0x5DEECE66D
	lcgAddend     = 0xB
	lcgMask       = (1 << 48) - 1
)

// Password returns the password for session id exactly as a Java ZooKeeper
// server generates it: the first 16 bytes of
// new java.util.Random(id ^ 0xB3415C00).nextBytes(). It must be
// bit-for-bit identical because, in a mixed ensemble, a client may reconnect
// to a Java server with a password that zkd handed out, or vice versa.
// Being a pure function of the id, it needs no storage to check.
func Password(id wire.SessionID) [PasswordLen]byte {
	// Java longs wrap modulo 2^64 and the state is masked to 48 bits, so
	// uint64 arithmetic reproduces it exactly.
	s := (uint64(id) ^ passwdSeedXor ^ lcgMultiplier) & lcgMask
	var out [PasswordLen]byte
	for i := 0; i < PasswordLen; {
		// next(32): advance, keep the top 32 of the 48 state bits.
		s = (s*lcgMultiplier + lcgAddend) & lcgMask
		r := uint32(s >> 16)
		// nextBytes consumes each 32-bit draw little-end first, at most
		// four bytes per draw.
		for n := 0; n < 4 && i < PasswordLen; n++ {
			out[i] = byte(r)
			r >>= 8
			i++
		}
	}
	return out
}
