// Command mesos-sim runs the Mesos master simulator (package mesos/sim) as
// its own process: the v1 scheduler API, /master/state, the agents'
// /files/read and the /sim/v1/ fault controls on one listener.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sprint-project/sprint/internal/secretfile"
	"github.com/sprint-project/sprint/mesos/sim"
)

// Main is the mesos-sim program: ParseFlags, then Run until ctx ends.
type Main struct {
	Listen string
	// Hostname is what the master and its agents advertise (Mesos'
	// --hostname); empty: the host of Listen, see advertisedHost.
	Hostname          string
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
	// CredentialsFile is Mesos' --credentials: the principals and secrets
	// HTTP Basic authentication accepts (JSON, or Mesos 1.10's deprecated
	// "principal secret" lines).
	CredentialsFile string
	// AuthenticateFrameworks, AuthenticateReadOnly and AuthenticateReadWrite
	// are Mesos' --authenticate_http_frameworks, --authenticate_http_readonly
	// and --authenticate_http_readwrite.
	AuthenticateFrameworks bool
	AuthenticateReadOnly   bool
	AuthenticateReadWrite  bool
	// ExecutorEnv is the agents' --executor_environment_variables (nil:
	// none, as Mesos' default).
	ExecutorEnv map[string]string
	// SwitchUser is the agents' --switch_user (default true, as Mesos).
	SwitchUser bool
	// Insecure allows a non-loopback Listen without authentication.
	Insecure bool
	Stderr   io.Writer

	credentials map[string]string
}

// mesosSpellings are the flags that also answer to Mesos' own spelling
// (underscores; --authenticate_frameworks is Mesos' name for driver-based
// frameworks, which here are HTTP ones), so a Mesos command line can be
// reused. They are hidden from the usage text.
var mesosSpellings = map[string]string{
	"authenticate_http_frameworks":   "authenticate-http-frameworks",
	"authenticate-frameworks":        "authenticate-http-frameworks",
	"authenticate_frameworks":        "authenticate-http-frameworks",
	"authenticate_http_readonly":     "authenticate-http-readonly",
	"authenticate_http_readwrite":    "authenticate-http-readwrite",
	"executor_environment_variables": "executor-environment-variables",
	"switch_user":                    "switch-user",
	"work_dir":                       "work-dir",
}

// ParseFlags reads the command line (DESIGN.md §3).
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("mesos-sim", flag.ContinueOnError)
	if m.Stderr != nil {
		fs.SetOutput(m.Stderr)
	}
	fs.StringVar(&m.Listen, "listen", "127.0.0.1:5050", "address to serve the master (and all agents) on")
	fs.StringVar(&m.Hostname, "hostname", "", "host name or IP address the master and its agents advertise (Offer.url, /master/state, the tasks' HOST), as Mesos' --hostname (default: the --listen host; 127.0.0.1 when --listen is every interface)")
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
	fs.StringVar(&m.CredentialsFile, "credentials", "", `file of the principals and secrets HTTP authentication accepts, as Mesos' --credentials: {"credentials":[{"principal":"…","secret":"…"}]} (also file:///path); it must not be readable by group or others`)
	fs.BoolVar(&m.AuthenticateFrameworks, "authenticate-http-frameworks", false, "require HTTP Basic credentials on /api/v1/scheduler (needs --credentials)")
	fs.BoolVar(&m.AuthenticateReadOnly, "authenticate-http-readonly", false, "require credentials on /master/state and the agents' /state and /files/read (needs --credentials)")
	fs.BoolVar(&m.AuthenticateReadWrite, "authenticate-http-readwrite", false, "require credentials on the /sim/v1/ fault controls (needs --credentials)")
	var execEnv string
	fs.StringVar(&execEnv, "executor-environment-variables", "", `JSON object of the environment every task starts from, as Mesos' agent flag (or file:///path to one), e.g. {"PATH":"/bin:/usr/bin"}; default none: tasks get PATH, HOME, the MESOS_* variables and their own environment, never the simulator's`)
	fs.BoolVar(&m.SwitchUser, "switch-user", true, "run each task as its user (CommandInfo.user, else FrameworkInfo.user), as Mesos' agent; needs root unless that user is this one")
	for alias, name := range mesosSpellings {
		f := fs.Lookup(name)
		fs.Var(f.Value, alias, "alias of --"+name)
	}
	fs.BoolVar(&m.Insecure, "insecure", false, "allow a --listen address other than loopback without authenticating every endpoint (the process executor runs any command it is sent)")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: mesos-sim [flags]\n\nA Mesos 1.10 master simulator with agents. Mesos' own flag spellings\n(--authenticate_http_frameworks, --work_dir, …) are accepted too.\n\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			if _, alias := mesosSpellings[f.Name]; alias {
				return
			}
			name, usage := flag.UnquoteUsage(f)
			if name != "" {
				name = " " + name
			}
			fmt.Fprintf(out, "  --%s%s\n    \t%s", f.Name, name, usage)
			switch {
			case f.DefValue == "" || f.DefValue == "false":
			case name == " string":
				fmt.Fprintf(out, " (default %q)", f.DefValue)
			default:
				fmt.Fprintf(out, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := m.loadAuthentication(); err != nil {
		return err
	}
	if execEnv != "" {
		env, err := parseExecutorEnv(execEnv)
		if err != nil {
			return fmt.Errorf("--executor-environment-variables: %w", err)
		}
		m.ExecutorEnv = env
	}
	if err := checkListen(m.Listen, m.Insecure, m.authenticatesAll()); err != nil {
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

// loadAuthentication reads --credentials and checks the --authenticate-*
// flags have credentials to check against, as Mesos refuses to start an
// authenticator without any.
func (m *Main) loadAuthentication() error {
	if m.CredentialsFile != "" {
		path := strings.TrimPrefix(m.CredentialsFile, "file://")
		data, err := secretfile.Read(path)
		if err != nil {
			return fmt.Errorf("--credentials: %w", err)
		}
		creds, err := sim.ParseCredentials(data)
		if err != nil {
			return fmt.Errorf("--credentials %s: %w", path, err)
		}
		if len(creds) == 0 {
			return fmt.Errorf("--credentials %s: no credentials in the file", path)
		}
		m.credentials = creds
	}
	if (m.AuthenticateFrameworks || m.AuthenticateReadOnly || m.AuthenticateReadWrite) && m.credentials == nil {
		return errors.New("--authenticate-http-frameworks, --authenticate-http-readonly and --authenticate-http-readwrite need --credentials: the principals and secrets to accept")
	}
	return nil
}

// authenticatesAll reports whether every endpoint that acts or reveals
// anything requires credentials.
func (m *Main) authenticatesAll() bool {
	return m.AuthenticateFrameworks && m.AuthenticateReadOnly && m.AuthenticateReadWrite
}

// parseExecutorEnv parses --executor-environment-variables: a JSON object
// of strings, inline or in a file named file:///path.
func parseExecutorEnv(v string) (map[string]string, error) {
	if path, ok := strings.CutPrefix(v, "file://"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		v = string(b)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, fmt.Errorf("want a JSON object such as {\"PATH\":\"/bin:/usr/bin\"}: %w", err)
	}
	env := make(map[string]string, len(raw))
	for k, val := range raw {
		s, ok := val.(string)
		if !ok {
			// Mesos' own wording.
			return nil, fmt.Errorf("`executor_environment_variables` must only contain string values (%s is not)", k)
		}
		env[k] = s
	}
	return env, nil
}

// checkListen refuses a listener other than loopback unless every endpoint
// is authenticated or insecure is set: the process executor runs, as the
// simulator's user, any shell command a scheduler sends.
func checkListen(addr string, insecure, authenticated bool) error {
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
	if insecure || authenticated {
		return nil
	}
	return fmt.Errorf("--listen %s is not a loopback address: without authentication anyone who can reach it can run commands as this user through its process executor; listen on 127.0.0.1, require credentials (--credentials with --authenticate-http-frameworks, --authenticate-http-readonly and --authenticate-http-readwrite), or pass --insecure if that is what you want", addr)
}

// advertisedHost is the host the master and its agents advertise:
// --hostname, else the host --listen names. Agents take it when they
// register, before the listener exists, so without it they would advertise
// 127.0.0.1 even on a master other hosts reach: a scheduler would then send
// its sandbox reads, with their credentials, to its own loopback. "" (for
// an empty or unspecified --listen host and no --hostname) leaves the
// simulator's default, 127.0.0.1.
func advertisedHost(listen, hostname string) string {
	if hostname != "" {
		return hostname
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return ""
	}
	return host
}

// Run serves until ctx ends, then shuts down gracefully.
func (m *Main) Run(ctx context.Context) error {
	var h slog.Handler = slog.NewTextHandler(m.Stderr, nil)
	if m.LogFormat == "json" {
		h = slog.NewJSONHandler(m.Stderr, nil)
	}
	log := slog.New(h)
	cfg := sim.Config{
		Hostname:                  advertisedHost(m.Listen, m.Hostname),
		WorkDir:                   m.WorkDir,
		Seed:                      m.Seed,
		HeartbeatInterval:         m.HeartbeatInterval,
		StatusUpdateRetry:         m.UpdateRetry,
		StatusUpdateRetryMax:      m.UpdateRetryMax,
		Credentials:               m.credentials,
		AuthenticateFrameworks:    m.AuthenticateFrameworks,
		AuthenticateHTTPReadOnly:  m.AuthenticateReadOnly,
		AuthenticateHTTPReadWrite: m.AuthenticateReadWrite,
		ExecutorEnvironment:       m.ExecutorEnv,
		SwitchUser:                m.SwitchUser,
	}
	if m.Executor == sim.ExecutorProcess {
		if err := sim.PrepareWorkDir(m.WorkDir); err != nil {
			return err
		}
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
	if checkListen(m.Listen, false, false) != nil {
		if m.authenticatesAll() {
			log.Warn("listening beyond loopback: HTTP Basic credentials travel in clear text unless a TLS proxy fronts this address", "addr", m.Listen)
		} else {
			log.Warn("listening beyond loopback without authenticating every endpoint (--insecure): anyone who can reach this address can run commands as this user", "addr", m.Listen)
		}
	}
	if cfg.Hostname == "" {
		log.Warn("listening on every interface without --hostname: the agents advertise 127.0.0.1, so schedulers on other hosts would send their calls and credentials to their own loopback; set --hostname to the address they reach this host at", "addr", m.Listen)
	}
	log.Info("mesos-sim listening", "addr", m.Listen, "hostname", cfg.Hostname, "agents", m.Agents, "executor", m.Executor, "work_dir", m.WorkDir,
		"switch_user", m.SwitchUser, "authenticate_http_frameworks", m.AuthenticateFrameworks,
		"authenticate_http_readonly", m.AuthenticateReadOnly, "authenticate_http_readwrite", m.AuthenticateReadWrite)
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
