// Package sim is an in-process simulator of an Apache Mesos 1.10 master and
// its agents. It serves the real v1 scheduler HTTP API (RecordIO streams,
// protobuf and JSON codecs, the status codes and ERROR events of the
// conformance checklist in docs/mesos-api.md), runs tasks either as local
// processes (as a Mesos agent would: their own environment, their user,
// their sandbox) or as cheap timers, serves /master/state and the agents'
// /files/read, and exposes fault controls under /sim/v1/. Like Mesos' HTTP
// Basic authenticator it can require credentials on the scheduler API, the
// read-only and the read-write endpoints.
//
// A Master is built with New, started with Start, and served either through
// Handler on any listener or with Serve/ListenAndServe. Tests drive time
// through an injected clock (WithClock; internal/clock's Manual clock) and
// randomness through a seed.
// See DESIGN.md for what the package owns and how its state is guarded.
package sim
