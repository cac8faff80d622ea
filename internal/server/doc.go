// Package server is where a client request enters zkd and where its reply
// leaves: it accepts connections, performs the session handshake, decodes
// frames (with package wire), answers reads from the tree, and runs writes
// down the write pipeline:
//
//	conn (conn.go) -> prepare (prep.go: validate, ACL, build txn)
//	  -> commit (pipeline.go: the point where a txn log / Zab plugs in)
//	  -> apply (pipeline.go: datatree.Apply, watches fire) -> reply -> conn
//
// Reads leave the road after decode and are answered from the tree once
// every earlier write of the same connection has been applied, so each
// connection sees its replies in request order. Reads and applies never
// interleave (Server.order): a read's reply is queued before the
// notification of any txn applied after it looked at the tree, and after
// the notification of any txn it saw. Four-letter words are in
// fourletter.go, the container/TTL reaper in reaper.go.
package server
