// Command sprintctl is sprint's command-line client: apply Run manifests,
// get, describe, delete, kill, follow logs of and wait for Runs, and manage
// the cluster's members; get, describe, delete and apply Schedules and
// Notifiers too. What every kind shares (printing, get by name or list,
// delete, apply one by one) is written once in kinds.go. It talks to a
// sprint server (--server or SPRINT_SERVER, default http://127.0.0.1:9090)
// through the client package, with the bearer token from --token or
// SPRINT_TOKEN.
//
// Every error ends the command with one line on stderr, "error: …", and a
// non-zero exit code.
package main
