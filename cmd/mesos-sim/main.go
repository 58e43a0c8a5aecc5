// Command mesos-sim runs the Mesos master simulator (package mesos/sim) as
// its own process: the v1 scheduler API, /master/state, the agents'
// /files/read and the /sim/v1/ fault controls on one listener.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sprint-project/sprint/mesos/sim"
)

// Main is the mesos-sim program: ParseFlags, then Run until ctx ends.
type Main struct {
	Listen            string
	Agents            int
	AgentResources    string
	AgentAttributes   string
	Executor          string
	WorkDir           string
	Seed              uint64
	HeartbeatInterval time.Duration
	// UpdateRetry and UpdateRetryMax are the agents' re-send interval of an
	// un-acknowledged status update: it starts at UpdateRetry and doubles
	// up to UpdateRetryMax (Mesos: 10 s and 10 min).
	UpdateRetry    time.Duration
	UpdateRetryMax time.Duration
	LogFormat      string
	// Insecure allows a non-loopback Listen, which has no authentication.
	Insecure bool
	Stderr   io.Writer
}

// ParseFlags reads the command line (DESIGN.md §3).
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("mesos-sim", flag.ContinueOnError)
	if m.Stderr != nil {
		fs.SetOutput(m.Stderr)
	}
	fs.StringVar(&m.Listen, "listen", "127.0.0.1:5050", "address to serve the master (and all agents) on")
	fs.IntVar(&m.Agents, "agents", 1, "number of simulated agents")
	fs.StringVar(&m.AgentResources, "agent-resources", sim.DefaultAgentResources, "resources of each agent (mesos-agent --resources syntax)")
	fs.StringVar(&m.AgentAttributes, "agent-attributes", "", "attributes of each agent, e.g. rack:r1;zone:a")
	fs.StringVar(&m.Executor, "executor", sim.ExecutorProcess, "how agents run tasks: process|simulated")
	fs.StringVar(&m.WorkDir, "work-dir", filepath.Join(os.TempDir(), "mesos-sim"), "directory for task sandboxes")
	fs.Uint64Var(&m.Seed, "seed", uint64(time.Now().UnixNano()), "random seed (ids, uuids, fault decisions)")
	fs.DurationVar(&m.HeartbeatInterval, "heartbeat-interval", 15*time.Second, "HEARTBEAT interval")
	fs.DurationVar(&m.UpdateRetry, "status-update-retry", 10*time.Second, "first re-send interval of an un-acknowledged status update (doubles each time)")
	fs.DurationVar(&m.UpdateRetryMax, "status-update-retry-max", 10*time.Minute, "longest re-send interval of an un-acknowledged status update")
	fs.StringVar(&m.LogFormat, "log-format", "text", "log format: text|json")
	fs.BoolVar(&m.Insecure, "insecure", false, "allow a --listen address other than loopback (no authentication; the process executor runs any command it is sent)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := checkListen(m.Listen, m.Insecure); err != nil {
		return err
	}
	if m.HeartbeatInterval <= 0 {
		return fmt.Errorf("--heartbeat-interval must be > 0, not %s", m.HeartbeatInterval)
	}
	if m.UpdateRetry <= 0 || m.UpdateRetryMax < m.UpdateRetry {
		return fmt.Errorf("--status-update-retry (%s) must be > 0 and no more than --status-update-retry-max (%s)", m.UpdateRetry, m.UpdateRetryMax)
	}
	if m.Agents < 0 {
		return errors.New("--agents must be >= 0")
	}
	if m.Executor != sim.ExecutorProcess && m.Executor != sim.ExecutorSimulated {
		return fmt.Errorf("--executor must be process or simulated, not %q", m.Executor)
	}
	if m.LogFormat != "text" && m.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, not %q", m.LogFormat)
	}
	return nil
}

// checkListen refuses a listener other than loopback unless insecure: the
// simulator has no authentication and its process executor runs, as the
// simulator's user, any shell command a scheduler sends.
func checkListen(addr string, insecure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	if insecure {
		return nil
	}
	return fmt.Errorf("--listen %s is not a loopback address: mesos-sim has no authentication and its process executor runs any command a scheduler sends, so anyone who can reach it can run commands as this user; listen on 127.0.0.1, or pass --insecure if that is what you want", addr)
}

// Run serves until ctx ends, then shuts down gracefully.
func (m *Main) Run(ctx context.Context) error {
	var h slog.Handler = slog.NewTextHandler(m.Stderr, nil)
	if m.LogFormat == "json" {
		h = slog.NewJSONHandler(m.Stderr, nil)
	}
	log := slog.New(h)
	cfg := sim.Config{
		WorkDir:              m.WorkDir,
		Seed:                 m.Seed,
		HeartbeatInterval:    m.HeartbeatInterval,
		StatusUpdateRetry:    m.UpdateRetry,
		StatusUpdateRetryMax: m.UpdateRetryMax,
	}
	for i := 0; i < m.Agents; i++ {
		cfg.Agents = append(cfg.Agents, sim.AgentConfig{Resources: m.AgentResources, Attributes: m.AgentAttributes, Executor: m.Executor})
	}
	master, err := sim.New(cfg, sim.WithLogger(log))
	if err != nil {
		return err
	}
	if err := master.Start(ctx); err != nil {
		return err
	}
	if m.Insecure {
		if err := checkListen(m.Listen, false); err != nil {
			log.Warn("listening beyond loopback without authentication (--insecure): anyone who can reach this address can run commands as this user", "addr", m.Listen)
		}
	}
	log.Info("mesos-sim listening", "addr", m.Listen, "agents", m.Agents, "executor", m.Executor, "work_dir", m.WorkDir)
	serveErr := master.ListenAndServe(ctx, m.Listen)
	closeErr := master.Close()
	return errors.Join(serveErr, closeErr)
}

func main() {
	m := &Main{Stderr: os.Stderr}
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "mesos-sim:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "mesos-sim:", err)
		os.Exit(1)
	}
}
