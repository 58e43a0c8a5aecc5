package raftstore

import (
	"maps"
	"sync/atomic"
)

// memberCache keeps the member list as of the last commit that changed it,
// so that looking up the leader's HTTP address (Store.Leader, on every
// request a follower forwards) does not open a read transaction and decode
// the members bucket each time.
//
// The FSM goroutine bumps gen after each commit that wrote the bucket, and
// after wipe and Restore. A reader reads the generation before it reads the
// bucket and files what it read under that generation, so a list read
// before a change is never served after the change: at worst a reader that
// raced a change files a list no one will take, and the next read goes to
// the bucket again.
type memberCache struct {
	gen  atomic.Uint64
	view atomic.Pointer[memberView]
}

type memberView struct {
	gen     uint64
	members map[string]Member
}

// get returns a copy of the cached list if it is current, else the list
// read calls returns, which it caches.
func (c *memberCache) get(read func() (map[string]Member, error)) (map[string]Member, error) {
	g := c.gen.Load()
	if v := c.view.Load(); v != nil && v.gen == g {
		return maps.Clone(v.members), nil
	}
	m, err := read()
	if err != nil {
		return nil, err
	}
	c.view.Store(&memberView{gen: g, members: maps.Clone(m)})
	return m, nil
}

// changed says that a commit wrote the members bucket (or replaced the
// file): lists read before it are no longer served.
func (c *memberCache) changed() { c.gen.Add(1) }
