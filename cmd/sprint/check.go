package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sprint-project/sprint/raftstore"
)

// Exit codes of `sprint check`.
const (
	checkSound   = 0 // nothing wrong
	checkDamaged = 1 // at least one problem, each printed on one line
	checkUnable  = 2 // not checked: bad usage, no node data, or the node is running
)

// runCheck is `sprint check --data-dir DIR`: it verifies a stopped node's
// files offline (raft.db, fsm.db, every snapshot, every log entry) and
// prints, one line each, the problems a starting node would refuse to start
// on or repair by itself — the same messages. It refuses to check while a
// node runs on DIR (bbolt's file lock).
func runCheck(args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sprint check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./sprint-data", "the node's data directory (its --data-dir); also "+EnvName("data-dir"))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sprint check [--data-dir DIR]\n\n"+
			"Verifies a stopped node's Raft log, state machine and snapshots offline.\n"+
			"Exit status: 0 sound, 1 damaged (one line per problem), 2 not checked.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return checkSound
		}
		return checkUnable
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sprint check: unexpected argument %q\n", fs.Arg(0))
		return checkUnable
	}
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "data-dir" })
	if v, ok := lookupEnv(EnvName("data-dir")); ok && !set {
		*dataDir = v
	}
	rep, err := raftstore.CheckDataDir(storeDir(*dataDir))
	if err != nil {
		fmt.Fprintln(stderr, "sprint check:", err)
		return checkUnable
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(stdout, "warning: %s in %s\n", w, rep.Dir)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, p.Error())
	}
	if !rep.Sound() {
		return checkDamaged
	}
	fmt.Fprintf(stdout, "%s is sound: raft.db log %d–%d (term %d), fsm.db applied to %d, %d snapshot(s)\n",
		rep.Dir, rep.LogFirst, rep.LogLast, rep.Term, rep.Applied, rep.Snapshots)
	return checkSound
}

// storeDir is where a node keeps its Raft files under its --data-dir. A
// path that is already such a directory is taken as it is.
func storeDir(dataDir string) string {
	sub := filepath.Join(dataDir, "raft")
	if fi, err := os.Stat(sub); err == nil && fi.IsDir() {
		return sub
	}
	return dataDir
}
