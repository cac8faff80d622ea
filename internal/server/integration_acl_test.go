package server_test

import (
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkd/zkd/internal/auth"
	"github.com/zkd/zkd/internal/wire"
)

const superDigestLine = "DigestAuthenticationProvider.superDigest=super:lK75jTNcA+U9vtVEw5vB51mj/w4="

func TestIntegrationSuperDigestConstant(t *testing.T) {
	t.Run("the configured super digest is the SHA1 of super:secret (computed independently with Python hashlib)", func(t *testing.T) {
		require.Equal(t, "super:lK75jTNcA+U9vtVEw5vB51mj/w4=", auth.DigestHash("super:secret"))
	})
}

func digestACL(perms int32, userPass string) wire.ACL {
	return wire.ACL{Perms: perms, ID: wire.Id{Scheme: "digest", ID: auth.DigestHash(userPass)}}
}

func TestIntegrationGetAndSetACL(t *testing.T) {
	s := startServer(t)
	c := s.connectZK(t)
	_, err := c.Create("/acl", nil, 0, openACL)
	require.NoError(t, err)

	t.Run("getACL returns the ACL and the stat", func(t *testing.T) {
		acl, st, err := c.GetACL("/acl")
		require.NoError(t, err)
		require.Equal(t, openACL, acl)
		require.Zero(t, st.Aversion)
	})
	t.Run("setACL with the current aversion bumps it", func(t *testing.T) {
		st, err := c.SetACL("/acl", zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermAdmin), 0)
		require.NoError(t, err)
		require.Equal(t, int32(1), st.Aversion)
		require.Zero(t, st.Version, "setACL does not change the data version")
		acl, st2, err := c.GetACL("/acl")
		require.NoError(t, err)
		require.Equal(t, zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermAdmin), acl)
		require.Equal(t, int32(1), st2.Aversion)
	})

	errs := []struct {
		name    string
		path    string
		acl     []zk.ACL
		version int32
		want    error
	}{
		{"setACL with a stale aversion is BadVersion", "/acl", openACL, 0, zk.ErrBadVersion},
		{"setACL on a missing node is NoNode", "/noacl", openACL, -1, zk.ErrNoNode},
		{"an empty ACL is InvalidACL", "/acl", []zk.ACL{}, -1, zk.ErrInvalidACL},
		{"an unknown scheme is InvalidACL", "/acl", []zk.ACL{{Perms: zk.PermAll, Scheme: "foo", ID: "bar"}}, -1, zk.ErrInvalidACL},
		{"a digest id without a colon is InvalidACL", "/acl", []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: "nocolon"}}, -1, zk.ErrInvalidACL},
		{"a malformed ip is InvalidACL", "/acl", []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "300.1.1.1"}}, -1, zk.ErrInvalidACL},
		{"the auth scheme without credentials is InvalidACL", "/acl", zk.AuthACL(zk.PermAll), -1, zk.ErrInvalidACL},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.SetACL(tc.path, tc.acl, tc.version)
			require.ErrorIs(t, err, tc.want)
		})
	}
	t.Run("create with an unknown scheme is InvalidACL", func(t *testing.T) {
		_, err := c.Create("/acl-bad", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "foo", ID: "bar"}})
		require.ErrorIs(t, err, zk.ErrInvalidACL)
	})
}

func TestIntegrationACLEnforcement(t *testing.T) {
	s := startServer(t)
	owner := s.connectZK(t)
	require.NoError(t, owner.AddAuth("digest", []byte("alice:pw")))
	aliceOnly := []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: auth.DigestHash("alice:pw")}}
	_, err := owner.Create("/secret", []byte("s"), 0, aliceOnly)
	require.NoError(t, err)
	_, err = owner.Create("/secret/kid", nil, 0, openACL)
	require.NoError(t, err)

	anon := s.connectZK(t)
	wrong := s.connectZK(t)
	require.NoError(t, wrong.AddAuth("digest", []byte("alice:wrong")))

	ops := []struct {
		name string
		op   func(c *zkClient) error
	}{
		{"getData needs READ", func(c *zkClient) error { _, _, err := c.Get("/secret"); return err }},
		{"setData needs WRITE", func(c *zkClient) error { _, err := c.Set("/secret", nil, -1); return err }},
		{"getChildren needs READ", func(c *zkClient) error { _, _, err := c.Children("/secret"); return err }},
		{"create needs CREATE on the parent", func(c *zkClient) error {
			_, err := c.Create("/secret/new", nil, 0, openACL)
			return err
		}},
		{"delete needs DELETE on the parent", func(c *zkClient) error { return c.Delete("/secret/kid", -1) }},
		{"setACL needs ADMIN", func(c *zkClient) error { _, err := c.SetACL("/secret", openACL, -1); return err }},
		{"getACL needs READ or ADMIN", func(c *zkClient) error { _, _, err := c.GetACL("/secret"); return err }},
	}
	for _, tc := range ops {
		t.Run(tc.name+": an anonymous client gets NoAuth", func(t *testing.T) {
			require.ErrorIs(t, tc.op(anon), zk.ErrNoAuth)
		})
		t.Run(tc.name+": a wrong password gets NoAuth", func(t *testing.T) {
			require.ErrorIs(t, tc.op(wrong), zk.ErrNoAuth)
		})
	}
	t.Run("exists needs no permission", func(t *testing.T) {
		ok, _, err := anon.Exists("/secret")
		require.NoError(t, err)
		require.True(t, ok)
	})
	t.Run("a node's ACL does not protect its children", func(t *testing.T) {
		_, _, err := anon.Get("/secret/kid")
		require.NoError(t, err)
	})
	t.Run("a missing node is NoNode before NoAuth", func(t *testing.T) {
		_, _, err := anon.Get("/secret/none")
		require.ErrorIs(t, err, zk.ErrNoNode)
	})
	t.Run("the digest owner may do everything", func(t *testing.T) {
		_, _, err := owner.Get("/secret")
		require.NoError(t, err)
		_, err = owner.Set("/secret", []byte("t"), -1)
		require.NoError(t, err)
		require.NoError(t, owner.Delete("/secret/kid", -1))
		acl, _, err := owner.GetACL("/secret")
		require.NoError(t, err)
		require.Equal(t, aliceOnly, acl, "an ADMIN caller sees the digest hash")
	})
}

func TestIntegrationACLSchemes(t *testing.T) {
	s := startServer(t, superDigestLine)
	c := s.connectZK(t)

	t.Run("the auth scheme becomes the caller's digest identity", func(t *testing.T) {
		a := s.connectZK(t)
		require.NoError(t, a.AddAuth("digest", []byte("bob:pw")))
		_, err := a.Create("/byauth", nil, 0, zk.AuthACL(zk.PermAll))
		require.NoError(t, err)
		acl, _, err := a.GetACL("/byauth")
		require.NoError(t, err)
		require.Equal(t, []zk.ACL{{Perms: zk.PermAll, Scheme: "digest", ID: auth.DigestHash("bob:pw")}}, acl)
		_, _, err = c.Get("/byauth")
		require.ErrorIs(t, err, zk.ErrNoAuth)
	})

	t.Run("world read lets anyone read but not write", func(t *testing.T) {
		_, err := c.Create("/wr", []byte("r"), 0, zk.WorldACL(zk.PermRead))
		require.NoError(t, err)
		other := s.connectZK(t)
		data, _, err := other.Get("/wr")
		require.NoError(t, err)
		require.Equal(t, "r", string(data))
		_, err = other.Set("/wr", nil, -1)
		require.ErrorIs(t, err, zk.ErrNoAuth)
	})

	t.Run("a reader without ADMIN sees digest ids redacted", func(t *testing.T) {
		acl := []zk.ACL{
			{Perms: zk.PermAll, Scheme: "digest", ID: auth.DigestHash("carol:pw")},
			{Perms: zk.PermRead, Scheme: "world", ID: "anyone"},
		}
		_, err := c.Create("/redact", nil, 0, acl)
		require.NoError(t, err)
		got, _, err := c.GetACL("/redact")
		require.NoError(t, err)
		require.Equal(t, []zk.ACL{
			{Perms: zk.PermAll, Scheme: "digest", ID: "carol:x"},
			{Perms: zk.PermRead, Scheme: "world", ID: "anyone"},
		}, got)
	})

	ipCases := []struct {
		name    string
		id      string
		allowed bool
	}{
		{"an ip ACL for the client's address allows it", "127.0.0.1", true},
		{"an ip ACL for the client's network allows it", "127.0.0.0/8", true},
		{"an ip ACL for another network denies it", "10.0.0.0/8", false},
	}
	for i, tc := range ipCases {
		t.Run(tc.name, func(t *testing.T) {
			p := "/ip" + string(rune('a'+i))
			_, err := c.Create(p, nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: tc.id}})
			require.NoError(t, err)
			_, _, err = c.Get(p)
			if tc.allowed {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, zk.ErrNoAuth)
			}
		})
	}

	t.Run("the super digest bypasses every ACL", func(t *testing.T) {
		su := s.connectZK(t)
		require.NoError(t, su.AddAuth("digest", []byte("super:secret")))
		for _, p := range []string{"/byauth", "/ipc", "/redact"} {
			_, _, err := su.Get(p)
			require.NoError(t, err, p)
			_, err = su.Set(p, []byte("su"), -1)
			require.NoError(t, err, p)
		}
		_, err := su.SetACL("/byauth", openACL, -1)
		require.NoError(t, err)
		_, _, err = c.Get("/byauth")
		require.NoError(t, err)
	})
	t.Run("a wrong super password is an ordinary digest", func(t *testing.T) {
		su := s.connectZK(t)
		require.NoError(t, su.AddAuth("digest", []byte("super:nope")))
		_, _, err := su.Get("/ipc")
		require.ErrorIs(t, err, zk.ErrNoAuth)
	})
}

func TestIntegrationAuthPacket(t *testing.T) {
	s := startServer(t, superDigestLine)

	t.Run("a digest auth is answered with xid -4 and zxid 0", func(t *testing.T) {
		c := s.rawSession(t, 2000)
		require.Equal(t, wire.OK, c.create("/z", nil, 0).Err)
		c.sendXid(wire.XidAuth, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("u:p")})
		f := c.readFrame()
		require.Equal(t, wire.XidAuth, f.hdr.Xid)
		require.Zero(t, f.hdr.Zxid)
		require.Equal(t, wire.OK, f.hdr.Err)
	})
	t.Run("an unknown auth scheme is AuthFailed and the connection is closed", func(t *testing.T) {
		c := s.rawSession(t, 2000)
		c.sendXid(wire.XidAuth, wire.OpAuth, &wire.AuthPacket{Scheme: "kerberos", Auth: []byte("x")})
		f := c.readFrame()
		require.Equal(t, wire.XidAuth, f.hdr.Xid)
		require.Zero(t, f.hdr.Zxid)
		require.Equal(t, wire.ErrAuthFailed, f.hdr.Err)
		c.expectClosed()
	})

	whoami := []struct {
		name  string
		auths []string
		want  []wire.ClientInfo
	}{
		{"whoAmI of a fresh connection is its ip", nil, []wire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}}},
		{"whoAmI shows only the digest user name", []string{"dave:pw"},
			[]wire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "dave"}}},
		{"whoAmI lists identities in the order they were added", []string{"dave:pw", "erin:pw"},
			[]wire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "dave"}, {AuthScheme: "digest", User: "erin"}}},
	}
	for _, tc := range whoami {
		t.Run(tc.name, func(t *testing.T) {
			c := s.rawSession(t, 2000)
			for _, a := range tc.auths {
				c.sendXid(wire.XidAuth, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte(a)})
				require.Equal(t, wire.OK, c.readFrame().hdr.Err)
			}
			var resp wire.WhoAmIResponse
			require.Equal(t, wire.OK, c.call(wire.OpWhoAmI, nil, &resp).Err)
			require.Equal(t, tc.want, resp.ClientInfo)
		})
	}
}
