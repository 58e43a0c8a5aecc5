// Package wiring connects sprint's packages for cmd/sprint, and for the
// tests that run the production combination: the raftstore-backed stores
// of the controller and the server, and the Mesos scheduler client of the
// controller.
//
// The consumers declare their interfaces (controller.Store,
// controller.Scheduler, server.Store) in their own terms and import
// neither raftstore nor mesos; raftstore and mesos know nothing of their
// consumers. The values that cross the store interfaces (apis.RunRef,
// apis.StatusUpdate, apis.EventRecord) and the errors callers branch on
// (apis.ErrNotFound, apis.ErrConflict, apis.ErrNotLeader, …) are shared
// through apis, so the store adapters only reconcile method shapes: they
// translate no value and no error, and cannot drop a field. The contract
// suites controller/storetest and server/storetest run against these
// adapters over a real raftstore and against every fake.
//
// The dependency graph stays one-way:
//
//	cmd/sprint → wiring → controller, server, raftstore, mesos → apis
package wiring
