//go:build !unix

package raftstore

import "errors"

// ErrInUse: a file of the data dir is locked by another process, most
// likely a running node.
var ErrInUse = errors.New("data dir in use by another process")

// lockFiles cannot probe bbolt's lock on this platform; bbolt's own lock
// (with its timeout) still keeps two nodes apart.
func lockFiles(...string) (func(), error) { return func() {}, nil }
