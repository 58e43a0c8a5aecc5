package controller

// FakeStore is the in-memory Store of the controller's tests, exported to
// the external test package so that the store contract (storetest) runs
// against it as it runs against the raftstore-backed store.
type FakeStore = fakeStore

// NewFakeStore returns an empty FakeStore that leads.
func NewFakeStore() *FakeStore { return newFakeStore(&actionLog{}) }

// SetLeader makes the fake lead or follow.
func (s *fakeStore) SetLeader(v bool) { s.setLeader(v) }
