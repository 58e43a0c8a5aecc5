package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/server"
)

// Config is everything a sprint node is started with: DESIGN.md §3's flags,
// each also read from SPRINT_<FLAG> (dashes as underscores) when the flag is
// not given on the command line.
type Config struct {
	DataDir            string
	Listen             string
	NodeID             string
	RaftAddr           string
	Advertise          string
	Peers              string
	Join               string
	MesosMaster        string
	FrameworkName      string
	FrameworkRole      string
	FrameworkUser      string
	MesosPrincipal     string
	MesosSecretFile    string
	MesosCodec         string
	SandboxDir         string
	FailoverTimeout    time.Duration
	GCInterval         time.Duration
	GCMaxAge           time.Duration
	GCMaxFinished      int
	NotifyMaxAge       time.Duration
	NotifyConcurrency  int
	NotifyTimeout      time.Duration
	StagingTimeout     time.Duration
	UnreachableTimeout time.Duration
	LogFormat          string
	LogLevel           string
	TokenFile          string
	TLSCert            string
	TLSKey             string
	TLSCA              string
	RaftTLSCert        string
	RaftTLSKey         string
	RaftTLSCA          string
	Insecure           bool
	// AllowHostPaths, AllowPrivileged and AllowURISchemes are the admission
	// policy's flags; see AdmissionPolicy.
	AllowHostPaths  string
	AllowPrivileged bool
	AllowURISchemes string
	// NotifierSecretDir (part of the admission policy) and
	// NotifierDenyCIDRs confine what Notifiers make the leader read and
	// where they make it connect.
	NotifierSecretDir string
	NotifierDenyCIDRs string

	RaftSnapshotThreshold uint64
	RaftSnapshotInterval  time.Duration
	RaftTrailingLogs      uint64
	// Limits on watches and lists: 0 means no limit.
	MaxWatches        int
	MaxClientWatches  int
	MaxClientLists    int
	WatchWriteTimeout time.Duration

	// HTTP timeouts (server.Config's fields of the same meaning).
	HTTPHeaderTimeout time.Duration
	HTTPBodyTimeout   time.Duration
	HTTPMinBodyRate   int64
	HTTPWriteTimeout  time.Duration
	HTTPIdleTimeout   time.Duration
}

// ParseFlags fills a Config from args and the environment. lookupEnv is
// os.LookupEnv in production and a map in tests.
func ParseFlags(args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("sprint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DataDir, "data-dir", "./sprint-data", "directory for the Raft log, snapshots and the state machine")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:9090", "address of the REST API")
	fs.StringVar(&c.NodeID, "node-id", "", "this node's Raft id (default: derived from --raft-addr)")
	fs.StringVar(&c.RaftAddr, "raft-addr", "127.0.0.1:9091", "address for Raft traffic between sprint nodes")
	fs.StringVar(&c.Advertise, "advertise", "", "HTTP URL other nodes use to reach this node's API (default: http(s)://--listen)")
	fs.StringVar(&c.Peers, "peers", "", "static cluster to bootstrap: id=raftAddr=httpURL,…")
	fs.StringVar(&c.Join, "join", "", "HTTP URL of a running sprint node whose cluster this node joins")
	fs.StringVar(&c.MesosMaster, "mesos-master", "", "Mesos master URLs, comma-separated (default: an embedded simulator with one local agent)")
	fs.StringVar(&c.FrameworkName, "framework-name", "sprint", "Mesos framework name")
	fs.StringVar(&c.FrameworkRole, "framework-role", "*", "Mesos role the framework subscribes with")
	fs.StringVar(&c.FrameworkUser, "framework-user", "", "OS user tasks run as by default (default: the user running sprint)")
	fs.StringVar(&c.MesosPrincipal, "mesos-principal", "", "principal the framework authenticates to Mesos as (HTTP basic auth)")
	fs.StringVar(&c.MesosSecretFile, "mesos-secret-file", "", "file holding the principal's secret")
	fs.StringVar(&c.SandboxDir, "sandbox-dir", "", "where the embedded Mesos agent puts task sandboxes: a fresh directory below it per start, removed at shutdown (default: the OS temp dir; must be outside --data-dir)")
	fs.StringVar(&c.MesosCodec, "mesos-codec", "protobuf", "encoding of scheduler API calls and events: protobuf or json")
	fs.DurationVar(&c.FailoverTimeout, "failover-timeout", 168*time.Hour, "how long Mesos keeps the framework's tasks while no sprint leader is subscribed")
	fs.DurationVar(&c.GCInterval, "gc-interval", time.Minute, "how often the leader looks for finished Runs to delete (also the wait after an election before the first look)")
	fs.DurationVar(&c.GCMaxAge, "gc-max-age", 168*time.Hour, "finished Runs older than this are deleted (unless the Run sets ttlSecondsAfterFinished)")
	fs.IntVar(&c.GCMaxFinished, "gc-max-finished", 2000, "beyond this many finished Runs the oldest are deleted")
	fs.DurationVar(&c.NotifyMaxAge, "notify-max-age", 24*time.Hour, "a notification not delivered this long after its event is recorded as failed")
	fs.IntVar(&c.NotifyConcurrency, "notify-concurrency", 8, "notification deliveries (webhook requests, SMTP sessions) the leader makes at once")
	fs.DurationVar(&c.NotifyTimeout, "notify-timeout", 10*time.Second, "bound on one delivery attempt: a webhook request or an SMTP session")
	fs.DurationVar(&c.StagingTimeout, "staging-timeout", 5*time.Minute, "a task not running after this is killed and counts as a failed attempt")
	fs.DurationVar(&c.UnreachableTimeout, "unreachable-timeout", 15*time.Minute, "an unreachable task counts as lost after this")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.TokenFile, "token-file", "", "file of bearer tokens, one per line; required on a non-loopback --listen unless --insecure")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file for the REST API")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS key file for the REST API")
	fs.StringVar(&c.TLSCA, "tls-ca", "", "PEM CA certificates to trust when this node calls other nodes' HTTPS APIs (--join, forwarding to the leader); default: the system's roots")
	fs.StringVar(&c.RaftTLSCert, "raft-tls-cert", "", "this node's certificate for mutual TLS on --raft-addr (sprint certs makes one); needs --raft-tls-key and --raft-tls-ca")
	fs.StringVar(&c.RaftTLSKey, "raft-tls-key", "", "the key of --raft-tls-cert")
	fs.StringVar(&c.RaftTLSCA, "raft-tls-ca", "", "the cluster CA: Raft peers must present a node certificate it signed")
	fs.BoolVar(&c.Insecure, "insecure", false, "allow a non-loopback --listen without --token-file and a non-loopback --raft-addr without --raft-tls-*")
	fs.StringVar(&c.AllowHostPaths, flagName(apis.FlagAllowHostPaths), "", "host path prefixes Run volumes may mount, comma-separated, each optionally :ro (read-only only), e.g. /srv/data,/opt/ref:ro (default: none)")
	fs.BoolVar(&c.AllowPrivileged, flagName(apis.FlagAllowPrivileged), false, "admit Runs with privileged Docker parameters (privileged, host namespaces, cap-add, devices, security-opt, volume/mount, …) and spec.user root outside a Docker container")
	fs.StringVar(&c.AllowURISchemes, flagName(apis.FlagAllowURISchemes), apis.DefaultAllowedURISchemes, "URI schemes spec.uris may fetch, comma-separated; file also admits bare paths (a file of the agent)")
	fs.StringVar(&c.NotifierSecretDir, flagName(apis.FlagNotifierSecretDir), "", "directory whose files Notifiers may name as secret files (webhook secretFile, email usernameFile and passwordFile); the leader reads them through an os.Root of it (default: none, so a Notifier may name no secret file)")
	fs.StringVar(&c.NotifierDenyCIDRs, flagName(apis.FlagNotifierDenyCIDRs), apis.DefaultNotifierDenyCIDRs, "addresses notifications are never delivered to, comma-separated CIDR prefixes or IPs, judged on the resolved address at connect time (\"\": deliver anywhere)")
	fs.Uint64Var(&c.RaftSnapshotThreshold, "raft-snapshot-threshold", raftstore.DefaultSnapshotThreshold, "Raft log entries between snapshots")
	fs.DurationVar(&c.RaftSnapshotInterval, "raft-snapshot-interval", raftstore.DefaultSnapshotInterval, "how often Raft checks whether to snapshot")
	fs.Uint64Var(&c.RaftTrailingLogs, "raft-trailing-logs", raftstore.DefaultTrailingLogs, "Raft log entries kept after a snapshot (a follower this far behind catches up from the log)")
	fs.IntVar(&c.MaxWatches, "max-watches", server.DefaultMaxWatches, "watch streams this node serves at once; beyond, 429 with Retry-After (0: no limit)")
	fs.IntVar(&c.MaxClientWatches, "max-client-watches", server.DefaultMaxClientWatches, "watch streams one client (bearer token, or remote address without --token-file) may have open (0: no limit)")
	fs.IntVar(&c.MaxClientLists, "max-client-lists", server.DefaultMaxClientLists, "lists without limit= (and GET /v1/runs) one client may have in flight (0: no limit)")
	fs.DurationVar(&c.WatchWriteTimeout, "watch-write-timeout", server.DefaultWatchWriteTimeout, "a watch whose client does not take a write for this long is disconnected")
	fs.DurationVar(&c.HTTPHeaderTimeout, "http-header-timeout", 10*time.Second, "time a client has to send a request's headers (and a TLS handshake)")
	fs.DurationVar(&c.HTTPBodyTimeout, "http-body-timeout", 10*time.Second, "time a client has to send a request body, plus 1 s per --http-min-body-rate bytes (408 beyond)")
	fs.Int64Var(&c.HTTPMinBodyRate, "http-min-body-rate", 32<<10, "slowest rate, in bytes per second, at which a request body may arrive")
	fs.DurationVar(&c.HTTPWriteTimeout, "http-write-timeout", time.Minute, "time to write a response, from the request (watches and followed logs excepted)")
	fs.DurationVar(&c.HTTPIdleTimeout, "http-idle-timeout", 2*time.Minute, "a kept-alive connection with no request for this long is closed")

	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sprint [flags]\n       sprint certs --dir DIR --nodes n1,n2,n3   (a cluster CA and node certificates; sprint certs -h)\n       sprint check [--data-dir DIR]             (verify a stopped node's files offline)\n\nA sprint node: the replicated Run store, the REST API and, on the Raft leader,\nthe controller that runs Runs on Mesos. Every flag can also be set through the\nenvironment as SPRINT_<FLAG>, e.g. SPRINT_DATA_DIR for --data-dir; flags win.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		key := EnvName(f.Name)
		if v, ok := lookupEnv(key); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: invalid value for --%s (%s): %w", key, v, f.Name, f.Usage, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.validate()
}

// EnvName is the environment variable that sets a flag: SPRINT_DATA_DIR for --data-dir.
func EnvName(flagName string) string {
	return "SPRINT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (c *Config) validate() error {
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format: must be text or json, not %q", c.LogFormat)
	}
	switch c.MesosCodec {
	case "protobuf", "json":
	default:
		return fmt.Errorf("--mesos-codec: must be protobuf or json, not %q", c.MesosCodec)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level: must be debug, info, warn or error, not %q", c.LogLevel)
	}
	if c.Peers != "" && c.Join != "" {
		return errors.New("--peers and --join are exclusive: bootstrap a static cluster or join a running one")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if _, err := c.AdmissionPolicy(); err != nil {
		return err
	}
	if n := countSet(c.RaftTLSCert, c.RaftTLSKey, c.RaftTLSCA); n != 0 && n != 3 {
		return errors.New("--raft-tls-cert, --raft-tls-key and --raft-tls-ca go together: give all three or none")
	}
	if c.GCMaxFinished < 0 {
		return fmt.Errorf("--gc-max-finished: must be 0 or more, not %d", c.GCMaxFinished)
	}
	if c.RaftSnapshotThreshold == 0 || c.RaftTrailingLogs == 0 {
		return errors.New("--raft-snapshot-threshold and --raft-trailing-logs: must be at least 1")
	}
	if c.RaftSnapshotInterval < 5*time.Millisecond {
		return fmt.Errorf("--raft-snapshot-interval: must be at least 5ms, not %v", c.RaftSnapshotInterval)
	}
	for name, n := range map[string]int{"--max-watches": c.MaxWatches, "--max-client-watches": c.MaxClientWatches, "--max-client-lists": c.MaxClientLists} {
		if n < 0 {
			return fmt.Errorf("%s: must be 0 (no limit) or more, not %d", name, n)
		}
	}
	if c.WatchWriteTimeout <= 0 {
		return fmt.Errorf("--watch-write-timeout: must be positive, not %v", c.WatchWriteTimeout)
	}
	if c.GCInterval <= 0 {
		return fmt.Errorf("--gc-interval: must be positive, not %v", c.GCInterval)
	}
	for name, d := range map[string]time.Duration{"--notify-max-age": c.NotifyMaxAge, "--notify-timeout": c.NotifyTimeout} {
		if d <= 0 {
			return fmt.Errorf("%s: must be positive, not %v", name, d)
		}
	}
	if _, err := c.NotifyDenyCIDRs(); err != nil {
		return err
	}
	if c.NotifyConcurrency < 1 || c.NotifyConcurrency > 1024 {
		return fmt.Errorf("--notify-concurrency: must be 1 to 1024, not %d", c.NotifyConcurrency)
	}
	for name, d := range map[string]time.Duration{
		"--failover-timeout": c.FailoverTimeout, "--gc-max-age": c.GCMaxAge,
		"--staging-timeout": c.StagingTimeout, "--unreachable-timeout": c.UnreachableTimeout,
	} {
		if d < 0 {
			return fmt.Errorf("%s: must not be negative", name)
		}
	}
	for name, d := range map[string]time.Duration{
		"--http-header-timeout": c.HTTPHeaderTimeout, "--http-body-timeout": c.HTTPBodyTimeout,
		"--http-write-timeout": c.HTTPWriteTimeout, "--http-idle-timeout": c.HTTPIdleTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("%s: must be positive, not %v", name, d)
		}
	}
	if c.HTTPMinBodyRate <= 0 {
		return fmt.Errorf("--http-min-body-rate: must be positive, not %d", c.HTTPMinBodyRate)
	}
	return nil
}

// AdmissionPolicy is the admission policy the policy flags describe; the
// error names the flag at fault.
func (c *Config) AdmissionPolicy() (apis.Policy, error) {
	hostPaths, err := apis.ParseAllowedHostPaths(c.AllowHostPaths)
	if err != nil {
		return apis.Policy{}, fmt.Errorf("%s: %w", apis.FlagAllowHostPaths, err)
	}
	schemes, err := apis.ParseURISchemes(c.AllowURISchemes)
	if err != nil {
		return apis.Policy{}, fmt.Errorf("%s: %w", apis.FlagAllowURISchemes, err)
	}
	secretDir, err := apis.ParseNotifierSecretDir(c.NotifierSecretDir)
	if err != nil {
		return apis.Policy{}, fmt.Errorf("%s: %w", apis.FlagNotifierSecretDir, err)
	}
	deny, err := c.NotifyDenyCIDRs()
	if err != nil {
		return apis.Policy{}, err
	}
	return apis.Policy{AllowedHostPaths: hostPaths, AllowPrivileged: c.AllowPrivileged, AllowedURISchemes: schemes,
		NotifierSecretDir: secretDir, NotifierDenyCIDRs: deny}, nil
}

// NotifyDenyCIDRs is --notifier-deny-cidrs parsed; empty (not nil) when the
// flag is "", which denies nothing.
func (c *Config) NotifyDenyCIDRs() ([]netip.Prefix, error) {
	p, err := apis.ParseNotifierDenyCIDRs(c.NotifierDenyCIDRs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", apis.FlagNotifierDenyCIDRs, err)
	}
	return p, nil
}

// CheckNotifierSecretDir refuses a --notifier-secret-dir that is not a
// directory, or that holds one of the node's own credentials (its API or
// Raft TLS key, the token file, the Mesos secret) or its data: any token
// holder could name that file in a Notifier and have the leader send it
// away. The comparison is of paths (a hard link or a symlink to the
// credential from elsewhere is not seen).
func (c *Config) CheckNotifierSecretDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", apis.FlagNotifierSecretDir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: %s is not a directory", apis.FlagNotifierSecretDir, dir)
	}
	for _, f := range []struct{ flag, path string }{
		{"--data-dir", c.DataDir}, {"--token-file", c.TokenFile}, {"--tls-key", c.TLSKey},
		{"--raft-tls-key", c.RaftTLSKey}, {"--mesos-secret-file", c.MesosSecretFile},
	} {
		if f.path == "" {
			continue
		}
		abs, err := filepath.Abs(f.path)
		if err != nil {
			continue
		}
		if _, in := apis.SecretDirRel(dir, abs); in || abs == dir {
			return fmt.Errorf("%s %s holds %s %s: any API token holder could have the leader send it in a notification; keep Notifier secrets in a directory of their own",
				apis.FlagNotifierSecretDir, dir, f.flag, f.path)
		}
	}
	return nil
}

// flagName is a flag's name without its dashes, as package flag wants it.
func flagName(flag string) string { return strings.TrimPrefix(flag, "--") }

func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

// RaftTLS reports whether the Raft port runs mutual TLS.
func (c *Config) RaftTLS() bool { return c.RaftTLSCert != "" }

func defaultLookupEnv(k string) (string, bool) { return os.LookupEnv(k) }
