//go:build unix

package raftstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrInUse: a file of the data dir is locked by another process, most
// likely a running node.
var ErrInUse = errors.New("data dir in use by another process")

// lockFiles takes a shared lock on each existing file (bbolt's own flock,
// which a running node holds exclusively), without waiting. The returned
// function releases them. A locked file is ErrInUse.
func lockFiles(paths ...string) (unlock func(), err error) {
	var held []*os.File
	unlock = func() {
		for _, f := range held {
			f.Close() // closing drops the flock
		}
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			unlock()
			return nil, err
		}
		held = append(held, f)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
			unlock()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%s is locked (is a sprint node running on this data dir?): %w", p, ErrInUse)
			}
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
	}
	return unlock, nil
}
