// Package auth owns ZooKeeper's authentication schemes and ACL rules,
// as pure functions over wire.Id and wire.ACL (wire.md §14). It does no
// network or storage work: the server package feeds it the ids a
// connection holds and the ACLs a znode carries.
//
// Schemes:
//
//   - world: the single id "anyone", matches everybody.
//   - digest: AuthPacket "user:password" gives the id
//     "user:BASE64(SHA1(user:password))"; ACL match is string equality.
//   - ip: the server adds "ip:<remote address>" at connect (see IPIdentity);
//     ACL ids are an address or address/bits, IPv4 or IPv6, matched on the
//     first bits.
//   - super: granted when a digest login matches the configured superDigest;
//     a connection holding any super id bypasses every ACL check.
//   - auth: only meaningful when setting ACLs; replaced by every
//     authenticated (digest) id of the caller.
//
// The functions mirror ZooKeeper 3.8: Authenticate is
// AuthenticationProvider.handleAuthentication, ValidateACL is
// PrepRequestProcessor.fixupACL, Check is ZooKeeperServer.checkACL and
// RedactForReader is the getACL redaction in FinalRequestProcessor.
// Errors are wire.Code values (ErrAuthFailed, ErrInvalidACL, ErrNoAuth),
// possibly wrapped with context; use errors.Is or errors.As to get the code.
package auth
