package auth

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/wire"
)

func digestID(userPass string) wire.Id {
	return wire.Id{Scheme: SchemeDigest, ID: DigestHash(userPass)}
}

func ipID(s string) wire.Id { return wire.Id{Scheme: SchemeIP, ID: s} }

func TestDigestHash(t *testing.T) {
	tests := []struct{ in, want string }{
		{"user:pass", "user:smGaoVKd/cQkjm7b88GyorAUz20="},
		{"super:test", "super:D/InIHSb7yEEbrWz8b9l71RjZJU="},
		{"nocolon", "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g="},
		{"a:b:c", "a:cLzgnoJ6mP5qz3w+mwvPE2vDgu0="},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, DigestHash(tc.in))
		})
	}
}

func TestAuthenticate(t *testing.T) {
	super := DigestHash("super:secret")
	tests := []struct {
		name     string
		scheme   string
		auth     string
		super    string
		enabled  bool
		want     []wire.Id
		wantCode wire.Code
	}{
		{name: "digest", scheme: "digest", auth: "user:pass", enabled: true,
			want: []wire.Id{{Scheme: "digest", ID: "user:smGaoVKd/cQkjm7b88GyorAUz20="}}},
		{name: "digest not super", scheme: "digest", auth: "user:pass", super: super, enabled: true,
			want: []wire.Id{{Scheme: "digest", ID: "user:smGaoVKd/cQkjm7b88GyorAUz20="}}},
		{name: "digest super", scheme: "digest", auth: "super:secret", super: super, enabled: true,
			want: []wire.Id{{Scheme: "super", ID: ""}, {Scheme: "digest", ID: super}}},
		{name: "super wrong password", scheme: "digest", auth: "super:nope", super: super, enabled: true,
			want: []wire.Id{digestID("super:nope")}},
		{name: "digest disabled", scheme: "digest", auth: "user:pass", enabled: false, wantCode: wire.ErrAuthFailed},
		{name: "ip", scheme: "ip", auth: "", enabled: true, want: nil},
		{name: "world", scheme: "world", auth: "anyone", enabled: true, wantCode: wire.ErrAuthFailed},
		{name: "super scheme", scheme: "super", auth: "x", enabled: true, wantCode: wire.ErrAuthFailed},
		{name: "sasl", scheme: "sasl", auth: "x", enabled: true, wantCode: wire.ErrAuthFailed},
		{name: "empty scheme", scheme: "", auth: "x", enabled: true, wantCode: wire.ErrAuthFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Authenticate(tc.scheme, []byte(tc.auth), tc.super, tc.enabled)
			if tc.wantCode != 0 {
				require.ErrorIs(t, err, tc.wantCode)
				var code wire.Code
				require.True(t, errors.As(err, &code))
				require.Equal(t, tc.wantCode, code)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestAuthenticateInvalidUTF8(t *testing.T) {
	got, err := Authenticate("digest", []byte("u:\xff"), "", true)
	require.NoError(t, err)
	require.Equal(t, []wire.Id{digestID("u:\uFFFD")}, got)
}

func TestIdentity(t *testing.T) {
	var ids Identity
	ids = ids.Add(ipID("127.0.0.1"))
	ids = ids.Add(digestID("a:b"), ipID("127.0.0.1"), digestID("a:b"))
	require.Equal(t, Identity{ipID("127.0.0.1"), digestID("a:b")}, ids)
	require.True(t, ids.Has(digestID("a:b")))
	require.False(t, ids.Has(digestID("a:c")))
	require.False(t, ids.IsSuper())
	ids = ids.Add(wire.Id{Scheme: "super", ID: ""})
	require.True(t, ids.IsSuper())
}

func TestIPIdentity(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1", "127.0.0.1"},
		{"::ffff:10.1.2.3", "10.1.2.3"},
		{"::1", "0:0:0:0:0:0:0:1"},
		{"2001:db8::ff00:42:8329", "2001:db8:0:0:0:ff00:42:8329"},
		{"fe80::1%eth0", "fe80:0:0:0:0:0:0:1%eth0"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			id := IPIdentity(netip.MustParseAddr(tc.in))
			require.Equal(t, wire.Id{Scheme: "ip", ID: tc.want}, id)
		})
	}
}

func TestValidateACL(t *testing.T) {
	user := digestID("user:pass")
	other := digestID("other:pw")
	read := func(id wire.Id) wire.ACL { return wire.ACL{Perms: wire.PermRead, ID: id} }
	all := func(id wire.Id) wire.ACL { return wire.ACL{Perms: wire.PermAll, ID: id} }
	authAll := all(wire.Id{Scheme: "auth", ID: ""})
	tests := []struct {
		name string
		in   []wire.ACL
		conn []wire.Id
		want []wire.ACL
	}{
		{"open", wire.OpenACLUnsafe, nil, wire.OpenACLUnsafe},
		{"read unsafe", wire.ReadACLUnsafe, nil, wire.ReadACLUnsafe},
		{"digest kept", []wire.ACL{all(user)}, nil, []wire.ACL{all(user)}},
		{"digest trailing colon quirk", []wire.ACL{all(wire.Id{Scheme: "digest", ID: "a:b:"})}, nil,
			[]wire.ACL{all(wire.Id{Scheme: "digest", ID: "a:b:"})}},
		{"digest empty user", []wire.ACL{all(wire.Id{Scheme: "digest", ID: ":h"})}, nil,
			[]wire.ACL{all(wire.Id{Scheme: "digest", ID: ":h"})}},
		{"ip kept", []wire.ACL{read(ipID("10.0.0.0/8")), read(ipID("127.0.0.1")), read(ipID("::1")), read(ipID("2001:db8::/32")), read(ipID("010.1.1.1/0"))}, nil,
			[]wire.ACL{read(ipID("10.0.0.0/8")), read(ipID("127.0.0.1")), read(ipID("::1")), read(ipID("2001:db8::/32")), read(ipID("010.1.1.1/0"))}},
		{"duplicates removed keeping order", []wire.ACL{read(user), wire.OpenACLUnsafe[0], read(user), wire.OpenACLUnsafe[0]}, nil,
			[]wire.ACL{read(user), wire.OpenACLUnsafe[0]}},
		{"same id different perms both kept", []wire.ACL{read(user), all(user)}, nil, []wire.ACL{read(user), all(user)}},
		{"auth expands to digest ids", []wire.ACL{authAll}, []wire.Id{ipID("127.0.0.1"), user, {Scheme: "super", ID: ""}, other},
			[]wire.ACL{all(user), all(other)}},
		{"auth id text ignored", []wire.ACL{read(wire.Id{Scheme: "auth", ID: "whatever"})}, []wire.Id{user},
			[]wire.ACL{read(user)}},
		{"auth mixed with world", []wire.ACL{wire.OpenACLUnsafe[0], read(wire.Id{Scheme: "auth"})}, []wire.Id{user},
			[]wire.ACL{wire.OpenACLUnsafe[0], read(user)}},
		{"input not deduplicated against expansion", []wire.ACL{authAll, all(user)}, []wire.Id{user},
			[]wire.ACL{all(user), all(user)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inCopy := append([]wire.ACL(nil), tc.in...)
			got, err := ValidateACL(tc.in, tc.conn)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, inCopy, tc.in, "input must not change")
		})
	}
}

func TestValidateACLErrors(t *testing.T) {
	all := func(scheme, id string) wire.ACL {
		return wire.ACL{Perms: wire.PermAll, ID: wire.Id{Scheme: scheme, ID: id}}
	}
	tests := []struct {
		name string
		in   []wire.ACL
		conn []wire.Id
	}{
		{"nil", nil, nil},
		{"empty", []wire.ACL{}, nil},
		{"world not anyone", []wire.ACL{all("world", "everyone")}, nil},
		{"auth without ids", []wire.ACL{all("auth", "")}, nil},
		{"auth with only ip and super", []wire.ACL{all("auth", "")}, []wire.Id{ipID("127.0.0.1"), {Scheme: "super", ID: ""}}},
		{"digest without colon", []wire.ACL{all("digest", "user")}, nil},
		{"digest trailing colon", []wire.ACL{all("digest", "user:")}, nil},
		{"digest two colons", []wire.ACL{all("digest", "a:b:c")}, nil},
		{"digest empty", []wire.ACL{all("digest", "")}, nil},
		{"digest colon only", []wire.ACL{all("digest", ":")}, nil},
		{"ip hostname", []wire.ACL{all("ip", "localhost")}, nil},
		{"ip three fields", []wire.ACL{all("ip", "10.0.0")}, nil},
		{"ip field too big", []wire.ACL{all("ip", "10.0.0.256")}, nil},
		{"ip bits too many", []wire.ACL{all("ip", "10.0.0.0/33")}, nil},
		{"ip bits negative", []wire.ACL{all("ip", "10.0.0.0/-1")}, nil},
		{"ip bits not a number", []wire.ACL{all("ip", "10.0.0.0/x")}, nil},
		{"ip two slashes", []wire.ACL{all("ip", "10.0.0.0/8/9")}, nil},
		{"ipv6 bits too many", []wire.ACL{all("ip", "::1/129")}, nil},
		{"ipv6 zone", []wire.ACL{all("ip", "fe80::1%eth0")}, nil},
		{"ipv6 garbage", []wire.ACL{all("ip", "::g")}, nil},
		{"ip empty", []wire.ACL{all("ip", "")}, nil},
		{"super scheme", []wire.ACL{all("super", "")}, nil},
		{"unknown scheme", []wire.ACL{all("sasl", "bob")}, nil},
		{"empty scheme", []wire.ACL{all("", "")}, nil},
		{"one bad entry spoils the list", []wire.ACL{wire.OpenACLUnsafe[0], all("x509", "CN=a")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ValidateACL(tc.in, tc.conn)
			require.ErrorIs(t, err, wire.ErrInvalidACL)
			require.Nil(t, got)
		})
	}
}

func TestCheck(t *testing.T) {
	user := digestID("user:pass")
	acl := func(perms int32, scheme, id string) wire.ACL {
		return wire.ACL{Perms: perms, ID: wire.Id{Scheme: scheme, ID: id}}
	}
	superID := wire.Id{Scheme: "super", ID: ""}
	tests := []struct {
		name    string
		acls    []wire.ACL
		perm    int32
		conn    []wire.Id
		skipACL bool
		allowed bool
	}{
		{"nil list allows", nil, wire.PermAdmin, nil, false, true},
		{"empty list allows", []wire.ACL{}, wire.PermWrite, nil, false, true},
		{"world anyone", wire.OpenACLUnsafe, wire.PermDelete, nil, false, true},
		{"world anyone lacking perm", wire.ReadACLUnsafe, wire.PermWrite, nil, false, false},
		{"world other id never matches", []wire.ACL{acl(31, "world", "someone")}, wire.PermRead, []wire.Id{{Scheme: "world", ID: "someone"}}, false, false},
		{"skipACL", []wire.ACL{acl(31, "digest", user.ID)}, wire.PermWrite, nil, true, true},
		{"super bypass", []wire.ACL{acl(0, "digest", user.ID)}, wire.PermAdmin, []wire.Id{superID}, false, true},
		{"super with any id text", []wire.ACL{acl(1, "digest", user.ID)}, wire.PermWrite, []wire.Id{{Scheme: "super", ID: "bob"}}, false, true},
		{"digest match", []wire.ACL{acl(wire.PermRead, "digest", user.ID)}, wire.PermRead, []wire.Id{ipID("1.2.3.4"), user}, false, true},
		{"digest wrong user", []wire.ACL{acl(31, "digest", user.ID)}, wire.PermRead, []wire.Id{digestID("user:wrong")}, false, false},
		{"digest perm missing", []wire.ACL{acl(wire.PermRead, "digest", user.ID)}, wire.PermWrite, []wire.Id{user}, false, false},
		{"scheme must agree", []wire.ACL{acl(31, "ip", "127.0.0.1")}, wire.PermRead, []wire.Id{{Scheme: "digest", ID: "127.0.0.1"}}, false, false},
		{"any perm bit suffices", []wire.ACL{acl(wire.PermAdmin, "digest", user.ID)}, wire.PermRead | wire.PermAdmin, []wire.Id{user}, false, true},
		{"second entry matches", []wire.ACL{acl(31, "digest", "x:y"), acl(wire.PermCreate, "ip", "10.0.0.0/8")}, wire.PermCreate, []wire.Id{ipID("10.9.8.7")}, false, true},
		{"no ids", []wire.ACL{acl(31, "digest", user.ID)}, wire.PermRead, nil, false, false},
		{"ip exact", []wire.ACL{acl(31, "ip", "127.0.0.1")}, wire.PermRead, []wire.Id{ipID("127.0.0.1")}, false, true},
		{"ip exact mismatch", []wire.ACL{acl(31, "ip", "127.0.0.1")}, wire.PermRead, []wire.Id{ipID("127.0.0.2")}, false, false},
		{"ip /8", []wire.ACL{acl(31, "ip", "10.0.0.0/8")}, wire.PermRead, []wire.Id{ipID("10.200.1.1")}, false, true},
		{"ip /8 outside", []wire.ACL{acl(31, "ip", "10.0.0.0/8")}, wire.PermRead, []wire.Id{ipID("11.0.0.1")}, false, false},
		{"ip /20 inside", []wire.ACL{acl(31, "ip", "192.168.16.0/20")}, wire.PermRead, []wire.Id{ipID("192.168.31.255")}, false, true},
		{"ip /20 outside", []wire.ACL{acl(31, "ip", "192.168.16.0/20")}, wire.PermRead, []wire.Id{ipID("192.168.32.0")}, false, false},
		{"ip acl host bits ignored", []wire.ACL{acl(31, "ip", "192.168.1.77/24")}, wire.PermRead, []wire.Id{ipID("192.168.1.3")}, false, true},
		{"ip /0 matches all v4", []wire.ACL{acl(31, "ip", "1.1.1.1/0")}, wire.PermRead, []wire.Id{ipID("9.9.9.9")}, false, true},
		{"ip v4 acl vs v6 conn", []wire.ACL{acl(31, "ip", "0.0.0.0/0")}, wire.PermRead, []wire.Id{ipID("0:0:0:0:0:0:0:1")}, false, false},
		{"ipv6 exact", []wire.ACL{acl(31, "ip", "::1")}, wire.PermRead, []wire.Id{ipID("0:0:0:0:0:0:0:1")}, false, true},
		{"ipv6 prefix", []wire.ACL{acl(31, "ip", "2001:db8::/32")}, wire.PermRead, []wire.Id{ipID("2001:db8:ffff:0:0:0:0:1")}, false, true},
		{"ipv6 prefix outside", []wire.ACL{acl(31, "ip", "2001:db8::/32")}, wire.PermRead, []wire.Id{ipID("2001:db9:0:0:0:0:0:1")}, false, false},
		{"ipv6 conn with zone", []wire.ACL{acl(31, "ip", "fe80::/10")}, wire.PermRead, []wire.Id{ipID("fe80:0:0:0:0:0:0:1%eth0")}, false, true},
		{"bad ip acl never matches", []wire.ACL{acl(31, "ip", "10.0.0.0/99")}, wire.PermRead, []wire.Id{ipID("10.0.0.1")}, false, false},
		{"bad conn ip never matches", []wire.ACL{acl(31, "ip", "10.0.0.0/8")}, wire.PermRead, []wire.Id{ipID("localhost")}, false, false},
		{"super acl entry is not special", []wire.ACL{acl(31, "super", "")}, wire.PermRead, []wire.Id{user}, false, false},
		{"auth entry never matches", []wire.ACL{acl(31, "auth", "")}, wire.PermRead, []wire.Id{{Scheme: "auth", ID: ""}}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.acls, tc.perm, tc.conn, tc.skipACL)
			if tc.allowed {
				require.NoError(t, err)
				return
			}
			require.Equal(t, wire.ErrNoAuth, err)
		})
	}
}

func TestRedactForReader(t *testing.T) {
	in := []wire.ACL{
		{Perms: wire.PermRead, ID: wire.Id{Scheme: "digest", ID: "user:smGaoVKd/cQkjm7b88GyorAUz20="}},
		{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: "a:b:c"}},
		{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: "nocolon"}},
		{Perms: wire.PermRead, ID: wire.Id{Scheme: "ip", ID: "10.0.0.0/8"}},
		wire.OpenACLUnsafe[0],
	}
	orig := append([]wire.ACL(nil), in...)
	want := []wire.ACL{
		{Perms: wire.PermRead, ID: wire.Id{Scheme: "digest", ID: "user:x"}},
		{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: "a:x"}},
		{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: "nocolon"}},
		{Perms: wire.PermRead, ID: wire.Id{Scheme: "ip", ID: "10.0.0.0/8"}},
		wire.OpenACLUnsafe[0],
	}
	require.Equal(t, want, RedactForReader(in))
	require.Equal(t, orig, in)
	require.Nil(t, RedactForReader(nil))
	require.Equal(t, []wire.ACL{}, RedactForReader([]wire.ACL{}))
}

func TestReadableACL(t *testing.T) {
	admin := digestID("admin:pw")
	reader := digestID("reader:pw")
	acls := []wire.ACL{
		{Perms: wire.PermAll, ID: admin},
		{Perms: wire.PermRead, ID: reader},
	}
	redacted := RedactForReader(acls)
	tests := []struct {
		name    string
		acls    []wire.ACL
		conn    []wire.Id
		skipACL bool
		want    []wire.ACL
		noAuth  bool
	}{
		{"admin sees hashes", acls, []wire.Id{admin}, false, acls, false},
		{"reader sees redacted", acls, []wire.Id{reader}, false, redacted, false},
		{"stranger denied", acls, []wire.Id{digestID("x:y")}, false, nil, true},
		{"super sees hashes", acls, []wire.Id{{Scheme: "super"}}, false, acls, false},
		{"skipACL sees hashes", acls, nil, true, acls, false},
		{"admin-only entry allows getACL", []wire.ACL{{Perms: wire.PermAdmin, ID: admin}}, []wire.Id{admin}, false,
			[]wire.ACL{{Perms: wire.PermAdmin, ID: admin}}, false},
		{"world read only redacts digests", append([]wire.ACL{wire.ReadACLUnsafe[0]}, acls[0]), nil, false,
			[]wire.ACL{wire.ReadACLUnsafe[0], {Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: "admin:x"}}}, false},
		{"empty list", []wire.ACL{}, nil, false, []wire.ACL{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadableACL(tc.acls, tc.conn, tc.skipACL)
			if tc.noAuth {
				require.Equal(t, wire.ErrNoAuth, err)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestEndToEndDigestFlow(t *testing.T) {
	// A client authenticates, creates a node with CREATOR_ALL_ACL, and only
	// it (or super) can then write.
	var conn Identity
	conn = conn.Add(IPIdentity(netip.MustParseAddr("127.0.0.1")))
	ids, err := Authenticate("digest", []byte("user:pass"), "", true)
	require.NoError(t, err)
	conn = conn.Add(ids...)
	stored, err := ValidateACL(wire.CreatorAllACL, conn)
	require.NoError(t, err)
	require.Equal(t, []wire.ACL{{Perms: wire.PermAll, ID: wire.Id{Scheme: "digest", ID: "user:smGaoVKd/cQkjm7b88GyorAUz20="}}}, stored)
	require.NoError(t, Check(stored, wire.PermWrite, conn, false))

	other := Identity{IPIdentity(netip.MustParseAddr("127.0.0.1"))}
	require.Equal(t, wire.ErrNoAuth, Check(stored, wire.PermWrite, other, false))

	superIDs, err := Authenticate("digest", []byte("super:secret"), DigestHash("super:secret"), true)
	require.NoError(t, err)
	require.NoError(t, Check(stored, wire.PermWrite, other.Add(superIDs...), false))
}
