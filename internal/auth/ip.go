package auth

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/zkd/zkd/internal/wire"
)

// IPIdentity is the ip id a connection from addr holds, formatted like
// Java's InetAddress.getHostAddress: dotted quad for IPv4 (IPv4-mapped
// IPv6 addresses are unmapped, as Java does), and for IPv6 eight
// lower-case hex groups without zero compression ("0:0:0:0:0:0:0:1"),
// plus "%zone" when there is one.
func IPIdentity(addr netip.Addr) wire.Id {
	addr = addr.Unmap()
	if addr.Is4() {
		return wire.Id{Scheme: SchemeIP, ID: addr.String()}
	}
	b := addr.As16()
	var s strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			s.WriteByte(':')
		}
		s.WriteString(strconv.FormatUint(uint64(b[i])<<8|uint64(b[i+1]), 16))
	}
	if z := addr.Zone(); z != "" {
		s.WriteByte('%')
		s.WriteString(z)
	}
	return wire.Id{Scheme: SchemeIP, ID: s.String()}
}

// parseIPAddr parses an address the way IPAuthenticationProvider does:
// IPv4 as four decimal fields 0-255 (Integer.parseInt, so leading zeros
// are fine), or an IPv6 literal. It returns 4 or 16 bytes. A zone suffix
// is ignored when allowZone, rejected otherwise.
func parseIPAddr(s string, allowZone bool) ([]byte, bool) {
	if fields := strings.Split(s, "."); len(fields) == 4 && !strings.Contains(s, ":") {
		out := make([]byte, 4)
		for i, f := range fields {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 255 {
				return nil, false
			}
			out[i] = byte(n)
		}
		return out, true
	}
	if !strings.Contains(s, ":") {
		return nil, false
	}
	if zone := strings.IndexByte(s, '%'); zone >= 0 {
		if !allowZone {
			return nil, false
		}
		s = s[:zone]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return nil, false
	}
	b := a.As16()
	return b[:], true
}

// parseIPACL parses an ip ACL id "addr" or "addr/bits" into the address
// bytes and the number of leading bits to compare.
func parseIPACL(expr string) ([]byte, int, bool) {
	addrPart, bitsPart, hasBits := strings.Cut(expr, "/")
	addr, ok := parseIPAddr(addrPart, false)
	if !ok {
		return nil, 0, false
	}
	bits := len(addr) * 8
	if hasBits {
		n, err := strconv.Atoi(bitsPart)
		if err != nil || n < 0 || n > bits {
			return nil, 0, false
		}
		bits = n
	}
	return addr, bits, true
}

// ipMatches reports whether the connection address connID falls inside
// the ACL's address/bits. IPv4 and IPv6 never match each other.
func ipMatches(connID, aclExpr string) bool {
	aclAddr, bits, ok := parseIPACL(aclExpr)
	if !ok {
		return false
	}
	remote, ok := parseIPAddr(connID, true)
	if !ok || len(remote) != len(aclAddr) {
		return false
	}
	for i := 0; bits > 0; i++ {
		if bits >= 8 {
			if remote[i] != aclAddr[i] {
				return false
			}
			bits -= 8
			continue
		}
		mask := byte(0xff) << (8 - bits)
		return remote[i]&mask == aclAddr[i]&mask
	}
	return true
}
