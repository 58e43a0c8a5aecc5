package raftstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

// ListOptions selects and pages a list of Runs.
type ListOptions struct {
	// Match selects Runs (label and field selectors); nil selects all.
	Match func(*apis.Run) bool
	// Limit is the page size; 0 means no limit.
	Limit int
	// Continue is the token of the previous page's ListMeta.Continue.
	Continue string
}

// view runs fn in a read transaction of the current file.
func (f *fsm) view(fn func(tx *bolt.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.db.View(fn)
}

func decodeRun(b []byte) (*apis.Run, error) {
	var run apis.Run
	if err := json.Unmarshal(b, &run); err != nil {
		return nil, fmt.Errorf("decode run: %w", err)
	}
	return &run, nil
}

func (f *fsm) getRun(name string) (*apis.Run, error) {
	if r, ok := f.runs.get(name); ok {
		return r, nil
	}
	var run *apis.Run
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns).Get([]byte(name))
		if b == nil {
			return notFound(name)
		}
		var err error
		run, err = decodeRun(b)
		return err
	})
	return run, err
}

// encodeContinue makes the opaque token: the last name returned.
func encodeContinue(name string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name))
}

func decodeContinue(tok string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("invalid continue token: %w", apis.ErrBadRequest)
	}
	return b, nil
}

// scanBucket calls fn with each object of bucket after the key `after`
// (nil: from the first) in name order, all within one read transaction,
// and returns that transaction's applied index. Each object is decoded
// afresh, so fn may keep it; the scan holds no more than the one object it
// is decoding. fn returns false to stop. Runs and Schedules are scanned
// and paged by the same code.
func scanBucket[T any](f *fsm, bucket, after []byte, decode func([]byte) (*T, error), fn func(*T) (bool, error)) (uint64, error) {
	var idx uint64
	err := f.view(func(tx *bolt.Tx) error {
		idx, _ = decodeApplied(tx.Bucket(bucketMeta).Get(keyApplied))
		c := tx.Bucket(bucket).Cursor()
		k, v := c.First()
		if after != nil {
			k, v = c.Seek(after)
			if k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			obj, err := decode(v)
			if err != nil {
				return err
			}
			more, err := fn(obj)
			if err != nil || !more {
				return err
			}
		}
		return nil
	})
	return idx, err
}

// listPage reads one page of bucket's objects that match (nil: all), at
// most limit (0: no limit) after the continue token cont, within one read
// transaction. It returns the items, the next page's token ("" on the last
// page) and the transaction's applied index, so a watch from it misses
// nothing.
func listPage[T any](f *fsm, bucket []byte, cont string, limit int, match func(*T) bool,
	decode func([]byte) (*T, error), name func(*T) string) (items []T, next string, idx uint64, err error) {
	var after []byte
	if cont != "" {
		if after, err = decodeContinue(cont); err != nil {
			return nil, "", 0, err
		}
	}
	items = []T{}
	idx, err = scanBucket(f, bucket, after, decode, func(obj *T) (bool, error) {
		if match != nil && !match(obj) {
			return true, nil
		}
		if limit > 0 && len(items) == limit {
			next = encodeContinue(name(&items[len(items)-1]))
			return false, nil
		}
		items = append(items, *obj)
		return true, nil
	})
	if err != nil {
		return nil, "", 0, err
	}
	return items, next, idx, nil
}

// scanRuns is scanBucket over the Runs.
func (f *fsm) scanRuns(after []byte, fn func(*apis.Run) (bool, error)) (uint64, error) {
	return scanBucket(f, bucketRuns, after, decodeRun, fn)
}

// listRuns pages through Runs in name order within one read transaction;
// ListMeta.ResourceVersion is the applied index of that same transaction, so
// a watch from it misses nothing.
func (f *fsm) listRuns(opts ListOptions) (*apis.RunList, error) {
	items, next, idx, err := listPage(f, bucketRuns, opts.Continue, opts.Limit, opts.Match, decodeRun,
		func(r *apis.Run) string { return r.Metadata.Name })
	if err != nil {
		return nil, err
	}
	return &apis.RunList{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRunList},
		Metadata: apis.ListMeta{ResourceVersion: strconv.FormatUint(idx, 10), Continue: next},
		Items:    items,
	}, nil
}

func (f *fsm) attempts(name string) ([]apis.Attempt, error) {
	var list []apis.Attempt
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAttempts).Get([]byte(name))
		if b == nil {
			return nil
		}
		return json.Unmarshal(b, &list)
	})
	if err != nil {
		return nil, fmt.Errorf("attempts of %q: %w", name, err)
	}
	return list, nil
}

func (f *fsm) liveAttempts() ([]apis.Attempt, error) {
	var live []apis.Attempt
	err := f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAttempts).ForEach(func(_, v []byte) error {
			var list []apis.Attempt
			if err := json.Unmarshal(v, &list); err != nil {
				return err
			}
			for _, at := range list {
				if !at.Terminal {
					live = append(live, at)
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("live attempts: %w", err)
	}
	return live, nil
}

func (f *fsm) events(name string) ([]apis.RunEvent, error) {
	var list []apis.RunEvent
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents).Get([]byte(name))
		if b == nil {
			return nil
		}
		return json.Unmarshal(b, &list)
	})
	if err != nil {
		return nil, fmt.Errorf("events of %q: %w", name, err)
	}
	return list, nil
}

func (f *fsm) frameworkID() (string, error) {
	var id string
	err := f.view(func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bucketMeta).Get(keyFrameworkID))
		return nil
	})
	return id, err
}

func (f *fsm) members() (map[string]Member, error) {
	return f.memberList.get(f.readMembers)
}

// readMembers reads the members bucket.
func (f *fsm) readMembers() (map[string]Member, error) {
	out := map[string]Member{}
	err := f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMembers).ForEach(func(k, v []byte) error {
			var m Member
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			out[string(k)] = m
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	return out, nil
}
