package auth

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/zkd/zkd/internal/wire"
)

// Scheme names understood by zkd.
const (
	SchemeWorld  = "world"
	SchemeAuth   = "auth"
	SchemeDigest = "digest"
	SchemeIP     = "ip"
	SchemeSuper  = "super"
)

// Anyone is the id of the world scheme.
const Anyone = "anyone"

// Identity is the list of ids a connection holds, in the order they were
// acquired (ServerCnxn.authInfo). A []wire.Id converts to it freely.
type Identity []wire.Id

// Add returns ids with id appended, unless an equal id is already held
// (ZooKeeper's addAuthInfo ignores duplicates).
func (ids Identity) Add(id ...wire.Id) Identity {
	for _, n := range id {
		if !ids.Has(n) {
			ids = append(ids, n)
		}
	}
	return ids
}

// Has reports whether ids holds exactly id.
func (ids Identity) Has(id wire.Id) bool {
	for _, h := range ids {
		if h == id {
			return true
		}
	}
	return false
}

// IsSuper reports whether ids hold a super id, which bypasses ACLs.
func (ids Identity) IsSuper() bool {
	for _, h := range ids {
		if h.Scheme == SchemeSuper {
			return true
		}
	}
	return false
}

// DigestHash turns "user:password" into the digest id
// "user:BASE64(SHA1(user:password))". The user is the text before the
// first ':' (the whole input if there is none); the hash covers the whole
// input. DigestHash("user:pass") == "user:smGaoVKd/cQkjm7b88GyorAUz20=".
func DigestHash(userPass string) string {
	user, _, _ := strings.Cut(userPass, ":")
	sum := sha1.Sum([]byte(userPass))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// Authenticate handles an AuthPacket and returns the ids the connection
// gains, to be merged with Identity.Add.
//
//   - digest (when digestEnabled): auth is "user:password"; the result is
//     digest:<DigestHash>, preceded by super:"" when that digest equals
//     superDigest ("super:<hash>") exactly.
//   - ip: returns no ids and no error; ZooKeeper re-adds the remote
//     address, which the caller already added at connect (IPIdentity).
//   - any other scheme, or digest when disabled: wire.ErrAuthFailed, after
//     which the server closes the connection.
//
// auth is decoded as UTF-8 like Java's new String(bytes); invalid bytes
// become U+FFFD before hashing.
func Authenticate(scheme string, auth []byte, superDigest string, digestEnabled bool) ([]wire.Id, error) {
	switch {
	case scheme == SchemeDigest && digestEnabled:
		digest := DigestHash(string([]rune(string(auth))))
		ids := make([]wire.Id, 0, 2)
		if superDigest != "" && digest == superDigest {
			ids = append(ids, wire.Id{Scheme: SchemeSuper, ID: ""})
		}
		return append(ids, wire.Id{Scheme: SchemeDigest, ID: digest}), nil
	case scheme == SchemeIP:
		return nil, nil
	}
	return nil, fmt.Errorf("auth: no provider for scheme %q: %w", scheme, wire.ErrAuthFailed)
}

// authenticated reports whether ids of this scheme count as "authenticated"
// for the auth ACL scheme (AuthenticationProvider.isAuthenticated). Of
// zkd's providers only digest is; ip is not, and super/world have no
// provider at all.
func authenticated(scheme string) bool { return scheme == SchemeDigest }

// validID reports whether id is well formed for scheme
// (AuthenticationProvider.isValid); false for schemes without a provider.
func validID(scheme, id string) bool {
	switch scheme {
	case SchemeDigest:
		return validDigestID(id)
	case SchemeIP:
		_, _, ok := parseIPACL(id)
		return ok
	}
	return false
}

// validDigestID mirrors Java's id.split(":").length == 2: split at every
// ':', drop trailing empty fields, expect two. So "user:hash" is valid,
// "user", "user:" and "a:b:c" are not; the quirk "a:b:" is valid.
func validDigestID(id string) bool {
	parts := strings.Split(id, ":")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return len(parts) == 2
}

// ValidateACL checks and expands an ACL list given to create or setACL
// (PrepRequestProcessor.fixupACL), returning the list to store:
//
//   - an empty list is invalid;
//   - exact duplicates in the input are removed, first occurrence kept;
//   - world:anyone is kept; any other world id is invalid;
//   - an auth entry is replaced by one entry per authenticated (digest) id
//     in connIDs, with the same perms; if there is none it is invalid;
//   - digest and ip entries must be well formed (see package doc);
//   - any other scheme is invalid.
//
// Invalid lists yield an error wrapping wire.ErrInvalidACL. The input is
// not modified.
func ValidateACL(acls []wire.ACL, connIDs []wire.Id) ([]wire.ACL, error) {
	if len(acls) == 0 {
		return nil, fmt.Errorf("auth: empty ACL list: %w", wire.ErrInvalidACL)
	}
	uniq := make([]wire.ACL, 0, len(acls))
	for _, a := range acls {
		if !containsACL(uniq, a) {
			uniq = append(uniq, a)
		}
	}
	out := make([]wire.ACL, 0, len(uniq))
	for _, a := range uniq {
		switch {
		case a.ID.Scheme == SchemeWorld && a.ID.ID == Anyone:
			out = append(out, a)
		case a.ID.Scheme == SchemeAuth:
			found := false
			for _, cid := range connIDs {
				if authenticated(cid.Scheme) {
					found = true
					out = append(out, wire.ACL{Perms: a.Perms, ID: cid})
				}
			}
			if !found {
				return nil, fmt.Errorf("auth: ACL scheme auth but the connection has no authenticated id: %w", wire.ErrInvalidACL)
			}
		case validID(a.ID.Scheme, a.ID.ID):
			out = append(out, a)
		default:
			return nil, fmt.Errorf("auth: invalid ACL id %q with scheme %q: %w", a.ID.ID, a.ID.Scheme, wire.ErrInvalidACL)
		}
	}
	return out, nil
}

func containsACL(list []wire.ACL, a wire.ACL) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

// Check decides whether a connection holding connIDs may perform an
// operation needing perm on a node with acls (ZooKeeperServer.checkACL,
// wire.md §14.2). It returns nil when allowed: skipACL is set, the list is
// empty, the connection holds a super id, or an entry granting any bit of
// perm is world:anyone or matches a connection id of the same scheme
// (digest: equal strings; ip: address prefix). Otherwise it returns
// wire.ErrNoAuth, unwrapped so the hot path does not allocate.
func Check(acls []wire.ACL, perm int32, connIDs []wire.Id, skipACL bool) error {
	if skipACL || len(acls) == 0 || Identity(connIDs).IsSuper() {
		return nil
	}
	for _, a := range acls {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID.Scheme == SchemeWorld && a.ID.ID == Anyone {
			return nil
		}
		for _, cid := range connIDs {
			if cid.Scheme == a.ID.Scheme && matches(cid.Scheme, cid.ID, a.ID.ID) {
				return nil
			}
		}
	}
	return wire.ErrNoAuth
}

// matches applies the scheme provider's match rule
// (AuthenticationProvider.matches); schemes without a provider never match.
func matches(scheme, connID, aclID string) bool {
	switch scheme {
	case SchemeDigest:
		return connID == aclID
	case SchemeIP:
		return ipMatches(connID, aclID)
	}
	return false
}

// RedactForReader returns a copy of acls with every digest id's hash
// replaced by "x" ("user:hash" -> "user:x"), which is what getACL returns
// to a caller without ADMIN permission (ZooKeeper 3.8 FinalRequestProcessor).
func RedactForReader(acls []wire.ACL) []wire.ACL {
	if acls == nil {
		return nil
	}
	out := make([]wire.ACL, len(acls))
	for i, a := range acls {
		if a.ID.Scheme == SchemeDigest {
			if user, _, ok := strings.Cut(a.ID.ID, ":"); ok {
				a.ID.ID = user + ":x"
			}
		}
		out[i] = a
	}
	return out
}

// ReadableACL is the whole getACL decision: the caller needs READ or
// ADMIN (else wire.ErrNoAuth); with ADMIN it sees acls as stored, with
// only READ it sees RedactForReader(acls).
func ReadableACL(acls []wire.ACL, connIDs []wire.Id, skipACL bool) ([]wire.ACL, error) {
	if err := Check(acls, wire.PermRead|wire.PermAdmin, connIDs, skipACL); err != nil {
		return nil, err
	}
	if Check(acls, wire.PermAdmin, connIDs, skipACL) == nil {
		return acls, nil
	}
	return RedactForReader(acls), nil
}
