package zkclient

import (
	"time"

	"github.com/zkd/zkd/internal/wire"
)

// Errors are wire.Code values (wire.ErrNoNode, ...) when the server
// answered with an error, wire.ErrConnectionLoss (possibly wrapped) when
// the connection failed before the answer, or ErrClosed. A request that
// failed with ConnectionLoss may or may not have been applied.

// Create creates a node and returns its actual path. flags is a create
// mode (wire.FlagEphemeral, ...); containers use CreateContainer.
func (c *Client) Create(path string, data []byte, flags int32, acl []wire.ACL) (string, error) {
	var resp wire.CreateResponse
	err := c.do(wire.OpCreate, &wire.CreateRequest{Path: path, Data: data, ACL: acl, Flags: flags}, &resp, nil)
	return resp.Path, err
}

// CreateContainer creates a container node.
func (c *Client) CreateContainer(path string, data []byte, acl []wire.ACL) (string, error) {
	var resp wire.Create2Response
	err := c.do(wire.OpCreateContainer, &wire.CreateRequest{Path: path, Data: data, ACL: acl, Flags: wire.FlagContainer}, &resp, nil)
	return resp.Path, err
}

// CreateTTL creates a node that the server deletes ttl after its last
// change once it has no children. flags is FlagPersistentWithTTL or
// FlagPersistentSequentialWithTTL.
func (c *Client) CreateTTL(path string, data []byte, flags int32, acl []wire.ACL, ttl time.Duration) (string, error) {
	var resp wire.Create2Response
	req := &wire.CreateTTLRequest{Path: path, Data: data, ACL: acl, Flags: flags, TTL: ttl.Milliseconds()}
	err := c.do(wire.OpCreateTTL, req, &resp, nil)
	return resp.Path, err
}

// Delete deletes a node if its version matches (-1: any).
func (c *Client) Delete(path string, version int32) error {
	return c.do(wire.OpDelete, &wire.DeleteRequest{Path: path, Version: version}, nil, nil)
}

// Exists returns the node's Stat, or nil when it does not exist. With
// watch, a data watch is left on an existing node and an exist watch on
// a missing one.
func (c *Client) Exists(path string, watch bool) (*wire.Stat, error) {
	var resp wire.ExistsResponse
	var reg func(wire.Code)
	if watch {
		reg = func(code wire.Code) {
			switch code {
			case wire.OK:
				c.watches.add(kindData, path)
			case wire.ErrNoNode:
				c.watches.add(kindExist, path)
			}
		}
	}
	err := c.do(wire.OpExists, &wire.ExistsRequest{Path: path, Watch: watch}, &resp, reg)
	if err == wire.ErrNoNode {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &resp.Stat, nil
}

// registerOnOK returns a registration adding path to table k on success.
func (c *Client) registerOnOK(watch bool, k watchKind, path string) func(wire.Code) {
	if !watch {
		return nil
	}
	return func(code wire.Code) {
		if code == wire.OK {
			c.watches.add(k, path)
		}
	}
}

// Get returns a node's data (nil for null) and Stat, optionally leaving a
// data watch.
func (c *Client) Get(path string, watch bool) ([]byte, *wire.Stat, error) {
	var resp wire.GetDataResponse
	err := c.do(wire.OpGetData, &wire.GetDataRequest{Path: path, Watch: watch}, &resp, c.registerOnOK(watch, kindData, path))
	if err != nil {
		return nil, nil, err
	}
	return resp.Data, &resp.Stat, nil
}

// Set replaces a node's data if its version matches (-1: any).
func (c *Client) Set(path string, data []byte, version int32) (*wire.Stat, error) {
	var resp wire.SetDataResponse
	if err := c.do(wire.OpSetData, &wire.SetDataRequest{Path: path, Data: data, Version: version}, &resp, nil); err != nil {
		return nil, err
	}
	return &resp.Stat, nil
}

// Children lists a node's children (server order) and returns its Stat,
// optionally leaving a child watch.
func (c *Client) Children(path string, watch bool) ([]string, *wire.Stat, error) {
	var resp wire.GetChildren2Response
	err := c.do(wire.OpGetChildren2, &wire.GetChildren2Request{Path: path, Watch: watch}, &resp, c.registerOnOK(watch, kindChild, path))
	if err != nil {
		return nil, nil, err
	}
	return resp.Children, &resp.Stat, nil
}

// GetACL returns a node's ACL and Stat.
func (c *Client) GetACL(path string) ([]wire.ACL, *wire.Stat, error) {
	var resp wire.GetACLResponse
	if err := c.do(wire.OpGetACL, &wire.GetACLRequest{Path: path}, &resp, nil); err != nil {
		return nil, nil, err
	}
	return resp.ACL, &resp.Stat, nil
}

// SetACL replaces a node's ACL if its aversion matches (-1: any).
func (c *Client) SetACL(path string, acl []wire.ACL, version int32) (*wire.Stat, error) {
	var resp wire.SetACLResponse
	if err := c.do(wire.OpSetACL, &wire.SetACLRequest{Path: path, ACL: acl, Version: version}, &resp, nil); err != nil {
		return nil, err
	}
	return &resp.Stat, nil
}

// Sync waits until the server has caught up with the leader.
func (c *Client) Sync(path string) error {
	var resp wire.SyncResponse
	return c.do(wire.OpSync, &wire.SyncRequest{Path: path}, &resp, nil)
}

// AddAuth adds credentials to the connection and waits for the answer.
// They are sent again on every new connection.
func (c *Client) AddAuth(scheme string, auth []byte) error {
	pkt := wire.AuthPacket{Scheme: scheme, Auth: auth}
	err := c.do(wire.OpAuth, &pkt, nil, nil)
	if err == nil {
		c.mu.Lock()
		c.auths = append(c.auths, pkt)
		c.mu.Unlock()
	}
	return err
}

// GetEphemerals lists the session's ephemeral nodes whose path starts
// with prefix (getEphemerals, opcode 103), in the server's order.
func (c *Client) GetEphemerals(prefix string) ([]string, error) {
	var resp wire.GetEphemeralsResponse
	err := c.do(wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: prefix}, &resp, nil)
	return resp.Ephemerals, err
}

// GetAllChildrenNumber counts all descendants of path (opcode 104).
func (c *Client) GetAllChildrenNumber(path string) (int32, error) {
	var resp wire.GetAllChildrenNumberResponse
	err := c.do(wire.OpGetAllChildrenNumber, &wire.GetAllChildrenNumberRequest{Path: path}, &resp, nil)
	return resp.TotalNumber, err
}

// WhoAmI lists the identities the server has for this connection
// (opcode 107).
func (c *Client) WhoAmI() ([]wire.ClientInfo, error) {
	var resp wire.WhoAmIResponse
	err := c.do(wire.OpWhoAmI, nil, &resp, nil)
	return resp.ClientInfo, err
}

// AddWatch adds a persistent (wire.AddWatchPersistent) or persistent
// recursive (wire.AddWatchPersistentRecursive) watch on path (opcode 106).
func (c *Client) AddWatch(path string, mode int32) error {
	k := kindPersistent
	if mode == wire.AddWatchPersistentRecursive {
		k = kindPersistentRecursive
	}
	var resp wire.ErrorResponse
	return c.do(wire.OpAddWatch, &wire.AddWatchRequest{Path: path, Mode: mode}, &resp, c.registerOnOK(true, k, path))
}

// RemoveWatches removes this session's watches of wtype
// (wire.WatcherChildren, WatcherData, WatcherAny) on path, on the server
// (removeWatches, opcode 18) and in the client, and delivers a "watch
// removed" event per kind removed. With local, the client's watches go
// even when the server cannot be reached or refuses. Error semantics
// follow ClientCnxn.finishPacket and ZKWatchManager.removeWatcher:
// wire.ErrNoWatcher when the client holds no such watch.
func (c *Client) RemoveWatches(path string, wtype int32, local bool) error {
	rc := wire.OK
	err := c.do(wire.OpRemoveWatches, &wire.RemoveWatchesRequest{Path: path, Type: wtype}, nil, nil)
	if err != nil {
		code, ok := err.(wire.Code)
		if !ok {
			code = wire.ErrConnectionLoss
		}
		rc = code
	}
	c.mu.Lock()
	if !c.watches.contains(path, wtype) {
		c.mu.Unlock()
		return wire.ErrNoWatcher
	}
	if !local && rc != wire.OK {
		c.mu.Unlock()
		return rc
	}
	removed := c.watches.remove(path, wtype)
	c.mu.Unlock()
	if len(removed) == 0 {
		return wire.ErrNoWatcher
	}
	state := KeeperSyncConnected
	if rc == wire.ErrSessionExpired || rc == wire.ErrConnectionLoss {
		state = KeeperDisconnected
	}
	for _, t := range removed {
		c.events.push(Event{Type: t, State: state, Path: path})
	}
	return nil
}
