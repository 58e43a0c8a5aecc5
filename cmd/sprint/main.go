// Command sprint is a sprint node: the replicated Run store (embedded Raft),
// the REST API and, while the node is the Raft leader, the controller that
// runs Runs on Mesos. With no --mesos-master it embeds a Mesos master
// simulator with one local agent that runs tasks as local processes.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sprint-project/sprint/client"
	"github.com/sprint-project/sprint/controller"
	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/buildinfo"
	"github.com/sprint-project/sprint/internal/clock"
	"github.com/sprint-project/sprint/internal/wiring"
	"github.com/sprint-project/sprint/mesos"
	"github.com/sprint-project/sprint/mesos/sim"
	"github.com/sprint-project/sprint/notify"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/server"
)

// version is set at build time with -ldflags "-X main.version=…" (make
// build does); otherwise buildinfo.Version derives it from the build.
var version = ""

func main() {
	if len(os.Args) > 1 && os.Args[1] == "certs" {
		os.Exit(runCerts(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(runCheck(os.Args[2:], defaultLookupEnv, os.Stdout, os.Stderr))
	}
	cfg, err := ParseFlags(os.Args[1:], defaultLookupEnv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sprint:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(cfg, os.Stderr)
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		fmt.Fprintln(os.Stderr, "sprint:", err)
		os.Exit(1)
	}
	<-ctx.Done()
	m.Logger.Info("shutting down")
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "sprint: shutdown:", err)
		os.Exit(1)
	}
}

// Main is one sprint node, reusable by end-to-end tests: Run starts it and
// returns once it serves; Close stops it.
type Main struct {
	Config Config
	Logger *slog.Logger

	store    *raftstore.Store
	sim      *sim.Master
	srv      *server.Server
	httpAddr string

	// sandboxes is the embedded agent's work dir, removed by Close.
	sandboxes string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
}

// NewMain returns a node for cfg that logs to logOut.
func NewMain(cfg Config, logOut io.Writer) *Main {
	return &Main{Config: cfg, Logger: newLogger(cfg, logOut)}
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// HTTPAddr is the address the REST API listens on, once Run returned.
func (m *Main) HTTPAddr() string { return m.httpAddr }

// Run starts the store, the Mesos connection, the controller and the API.
func (m *Main) Run(parent context.Context) error {
	cfg := m.Config
	ctx, cancel := context.WithCancel(parent)
	m.cancel = cancel

	var tokens []string
	if cfg.TokenFile != "" {
		// Anyone who can read a token can run commands through sprint.
		if _, err := readSecretFile("token-file", cfg.TokenFile); err != nil {
			return err
		}
		t, err := server.LoadTokens(cfg.TokenFile)
		if err != nil {
			return err
		}
		tokens = t
	}
	if err := server.CheckListenSecurity(cfg.Listen, len(tokens) > 0, cfg.Insecure); err != nil {
		return err
	}
	warnCleartextTokens(m.Logger, cfg.Listen, len(tokens) > 0, cfg.TLSCert != "")
	policy, err := cfg.AdmissionPolicy()
	if err != nil {
		return err
	}
	if err := cfg.CheckNotifierSecretDir(policy.NotifierSecretDir); err != nil {
		return err
	}
	denyCIDRs, err := cfg.NotifyDenyCIDRs()
	if err != nil {
		return err
	}
	if err := raftstore.CheckRaftAddrSecurity(cfg.RaftAddr, cfg.RaftTLS(), cfg.Insecure); err != nil {
		return err
	}
	var peerTLS *raftstore.PeerTLS
	if cfg.RaftTLS() {
		p, err := raftstore.LoadPeerTLS(cfg.RaftTLSCert, cfg.RaftTLSKey, cfg.RaftTLSCA)
		if err != nil {
			return err
		}
		peerTLS = p
	}
	// httpTLS is what this node trusts when it calls another node's HTTPS
	// API: --tls-ca, else the system's roots.
	var httpTLS *tls.Config
	if cfg.TLSCA != "" {
		t, err := client.LoadCA(cfg.TLSCA)
		if err != nil {
			return fmt.Errorf("--tls-ca: %w", err)
		}
		httpTLS = t
	}
	if err := prepareDataDir(cfg.DataDir, m.Logger); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	m.httpAddr = ln.Addr().String()
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	advertise := cfg.Advertise
	if advertise == "" {
		advertise = scheme + "://" + m.httpAddr
	}
	nodeID := cfg.NodeID
	if nodeID == "" {
		nodeID = cfg.RaftAddr
	}
	if peerTLS != nil {
		m.Logger.Info("raft port uses mutual TLS", "certificate_node", peerTLS.NodeName(), "ca", cfg.RaftTLSCA,
			"expires", peerTLS.NotAfter().UTC().Format(time.RFC3339))
		if left := time.Until(peerTLS.NotAfter()); left < 30*24*time.Hour {
			m.Logger.Warn("the raft certificate expires soon; peers refuse it from then on: issue a new one (sprint certs) and restart this node",
				"expires", peerTLS.NotAfter().UTC().Format(time.RFC3339), "left", left.Round(time.Hour).String())
		}
		if peerTLS.NodeName() != nodeID {
			m.Logger.Warn("the raft certificate names another node; peers accept any node certificate of the cluster CA, so this works, but check the files",
				"certificate_node", peerTLS.NodeName(), "node_id", nodeID)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The replicated store.
	var peers []raftstore.Peer
	if cfg.Peers != "" {
		if peers, err = raftstore.ParsePeers(cfg.Peers); err != nil {
			ln.Close()
			return fmt.Errorf("--peers: %w", err)
		}
	}
	store, err := raftstore.New(raftstore.Config{
		NodeID:       nodeID,
		RaftAddr:     cfg.RaftAddr,
		HTTPAddr:     advertise,
		DataDir:      filepath.Join(cfg.DataDir, "raft"),
		Peers:        peers,
		JoinExisting: cfg.Join != "",
		TLS:          peerTLS,
		Registerer:   reg,

		SnapshotThreshold: cfg.RaftSnapshotThreshold,
		SnapshotInterval:  cfg.RaftSnapshotInterval,
		TrailingLogs:      cfg.RaftTrailingLogs,
	}, m.Logger)
	if err != nil {
		ln.Close()
		return fmt.Errorf("open store: %w", err)
	}
	m.store = store
	if err := store.Start(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("start store: %w", err)
	}

	// Mesos: a real master list, or the embedded simulator.
	mcfg := mesos.Config{
		FrameworkName:   cfg.FrameworkName,
		Role:            cfg.FrameworkRole,
		User:            frameworkUser(cfg.FrameworkUser),
		Principal:       cfg.MesosPrincipal,
		FailoverTimeout: cfg.FailoverTimeout,
		Codec:           cfg.MesosCodec,
		WebUIURL:        advertise,
	}
	if cfg.MesosSecretFile != "" && cfg.MesosMaster != "" {
		b, err := readSecretFile("mesos-secret-file", cfg.MesosSecretFile)
		if err != nil {
			ln.Close()
			return err
		}
		mcfg.Secret = strings.TrimSpace(string(b))
	}
	if cfg.MesosMaster == "" {
		// The embedded simulator accepts one credential, made up here.
		if cfg.MesosSecretFile != "" {
			m.Logger.Warn("--mesos-secret-file is not used with the embedded Mesos simulator: it accepts only a random credential of this process")
		}
		if mcfg.Principal == "" {
			mcfg.Principal = embeddedPrincipal
		}
		if mcfg.Secret, err = newEmbeddedSecret(); err != nil {
			ln.Close()
			return err
		}
	}
	masters, err := m.mesosMasters(ctx, mcfg.Principal, mcfg.Secret)
	if err != nil {
		ln.Close()
		return err
	}
	mcfg.Masters = masters
	sched, err := mesos.New(mcfg, store, m.Logger)
	if err != nil {
		ln.Close()
		return fmt.Errorf("mesos client: %w", err)
	}

	// The controller runs while this node leads.
	ctrl, err := controller.New(controller.Config{
		StagingTimeout:     cfg.StagingTimeout,
		UnreachableTimeout: cfg.UnreachableTimeout,
		GCInterval:         cfg.GCInterval,
		GCMaxAge:           cfg.GCMaxAge,
		GCMaxFinished:      cfg.GCMaxFinished,
		Policy:             &policy, // Schedules' Runs are admitted as the API admits Runs
	}, wiring.NewControllerStore(store), wiring.MesosScheduler{Client: sched},
		wiring.MesosTaskBuilder(mesos.TaskOptions{}), clock.Real{},
		m.Logger, reg)
	if err != nil {
		ln.Close()
		return fmt.Errorf("controller: %w", err)
	}
	m.goRun("controller", func() error { return ctrl.Start(ctx) })

	// The API.
	logs := &sandboxLogs{
		files:       mesos.NewFiles(mesos.FilesConfig{Principal: mcfg.Principal, Secret: mcfg.Secret}),
		masters:     masters,
		frameworkID: store.FrameworkID,
		getRun:      store.GetRun,
		poll:        250 * time.Millisecond,
	}
	// Notifications: the leader delivers the outbox, beside the controller.
	notifier, err := notify.New(notify.Config{
		MaxAge: cfg.NotifyMaxAge, Concurrency: cfg.NotifyConcurrency, Timeout: cfg.NotifyTimeout,
		SecretDir: policy.NotifierSecretDir, DenyCIDRs: denyCIDRs,
	}, store, notifyLogs{logs}, m.Logger, reg)
	if err != nil {
		ln.Close()
		return fmt.Errorf("notify: %w", err)
	}
	m.goRun("notify", func() error { return notifier.Run(ctx) })
	mesosReport := &mesosState{
		sched: sched, files: logs.files, masters: masters, name: mcfg.FrameworkName,
		role: mcfg.Role, embedded: cfg.MesosMaster == "", storedID: store.FrameworkID,
	}
	srv, err := server.New(server.Config{
		Mesos:            mesosReport,
		NodeID:           nodeID,
		Version:          buildinfo.Version(version),
		Tokens:           tokens,
		TLSCertFile:      cfg.TLSCert,
		TLSKeyFile:       cfg.TLSKey,
		Registry:         reg,
		ForwardTransport: forwardTransport(httpTLS),
		Policy:           &policy,
		Schedules:        wiring.NewServerSchedules(store),

		MaxWatches:        noLimit(cfg.MaxWatches),
		MaxClientWatches:  noLimit(cfg.MaxClientWatches),
		MaxClientLists:    noLimit(cfg.MaxClientLists),
		WatchWriteTimeout: cfg.WatchWriteTimeout,

		ReadHeaderTimeout: cfg.HTTPHeaderTimeout,
		BodyReadTimeout:   cfg.HTTPBodyTimeout,
		MinBodyRate:       cfg.HTTPMinBodyRate,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
	}, wiring.NewServerStore(store), logs, m.Logger)
	if err != nil {
		ln.Close()
		return fmt.Errorf("server: %w", err)
	}
	m.srv = srv
	m.goRun("server", func() error {
		if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})

	if cfg.Join != "" {
		if err := m.join(ctx, nodeID, store.RaftAddr(), advertise, tokens, httpTLS); err != nil {
			return err
		}
	}
	self, err := apiClient(advertise, tokens, httpTLS)
	if err != nil {
		return fmt.Errorf("store level: %w", err)
	}
	m.goRun("store-level", func() error {
		reportStoreLevel(ctx, store, func(ctx context.Context) error {
			return self.JoinLevel(ctx, nodeID, store.RaftAddr(), advertise, raftstore.StoreLevel)
		}, clock.Real{}, m.Logger)
		return nil
	})
	m.Logger.Info("sprint started", "listen", m.httpAddr, "node_id", nodeID, "raft_addr", store.RaftAddr(),
		"data_dir", cfg.DataDir, "mesos_masters", strings.Join(masters, ","), "version", buildinfo.Version(version))
	m.Logger.Info("admission policy", "allow_host_paths", cfg.AllowHostPaths, "allow_privileged", policy.AllowPrivileged,
		"allow_uri_schemes", strings.Join(policy.AllowedURISchemes, ","), "notifier_secret_dir", policy.NotifierSecretDir,
		"notifier_deny_cidrs", cfg.NotifierDenyCIDRs)
	return nil
}

// mesosMasters returns --mesos-master's URLs or starts the embedded
// simulator on a loopback port and returns its URL. The embedded one
// requires the credential principal:secret on every endpoint, runs each
// task as its user (when sprint is root) with only the environment a Mesos
// agent gives, and keeps sandboxes in a fresh directory under
// --sandbox-dir that Close removes.
func (m *Main) mesosMasters(ctx context.Context, principal, secret string) ([]string, error) {
	if m.Config.MesosMaster != "" {
		var out []string
		for _, u := range strings.Split(m.Config.MesosMaster, ",") {
			if u = strings.TrimSpace(u); u == "" {
				continue
			}
			if _, err := mesos.ParseMasterURL(u); err != nil {
				return nil, fmt.Errorf("--mesos-master: %w", err)
			}
			out = append(out, u)
		}
		if len(out) == 0 {
			return nil, errors.New("--mesos-master: no URL given")
		}
		return out, nil
	}
	root, err := sandboxRoot(m.Config.SandboxDir, m.Config.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("--sandbox-dir: %w", err)
	}
	work, err := os.MkdirTemp(root, "sprint-sandboxes-")
	if err != nil {
		return nil, fmt.Errorf("--sandbox-dir: %w", err)
	}
	m.sandboxes = work
	// Tasks that run as other users must reach their sandbox below it.
	if err := os.Chmod(work, 0o711); err != nil {
		return nil, fmt.Errorf("--sandbox-dir: %w", err)
	}
	hc, err := sim.HostConfig(work)
	if err != nil {
		return nil, fmt.Errorf("embedded mesos simulator: %w", err)
	}
	hc.Credentials = map[string]string{principal: secret}
	hc.AuthenticateFrameworks, hc.AuthenticateHTTPReadOnly, hc.AuthenticateHTTPReadWrite = true, true, true
	hc.SwitchUser = true         // spec.user, else --framework-user, when sprint is root
	hc.ExecutorEnvironment = nil // Mesos' default: nothing of sprint's environment
	master, err := sim.New(hc, sim.WithLogger(m.Logger))
	if err != nil {
		return nil, fmt.Errorf("embedded mesos simulator: %w", err)
	}
	if err := master.Start(ctx); err != nil {
		return nil, fmt.Errorf("embedded mesos simulator: %w", err)
	}
	m.sim = master
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("embedded mesos simulator: %w", err)
	}
	m.goRun("mesos-sim", func() error { return master.Serve(ctx, sl) })
	m.Logger.Info("embedded Mesos simulator started", "url", "http://"+sl.Addr().String(), "principal", principal,
		"sandboxes", work, "switch_user", hc.SwitchUser)
	return []string{"http://" + sl.Addr().String()}, nil
}

// join asks a running cluster (through any of its nodes; followers forward
// to the leader) to add this node, retrying until it answers or ctx ends.
func (m *Main) join(ctx context.Context, id, raftAddr, httpAddr string, tokens []string, httpTLS *tls.Config) error {
	c, err := apiClient(m.Config.Join, tokens, httpTLS)
	if err != nil {
		return fmt.Errorf("--join: %w", err)
	}
	retry := backoff.Retry{Policy: backoff.Policy{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.5}}
	for {
		// With this binary's store level, so Schedule writes need not wait
		// for the level's report; a leader that predates levels refuses
		// the field (400), and then a plain join does (the report loop
		// sends the level once the leader is upgraded).
		err := c.JoinLevel(ctx, id, raftAddr, httpAddr, raftstore.StoreLevel)
		if client.StatusCode(err) == http.StatusBadRequest {
			err = c.Join(ctx, id, raftAddr, httpAddr)
		}
		if err == nil {
			m.Logger.Info("joined cluster", "via", m.Config.Join)
			return nil
		}
		if code := client.StatusCode(err); code >= 400 && code < 500 {
			return fmt.Errorf("join %s: %w", m.Config.Join, err)
		}
		m.Logger.Warn("join failed; retrying", "via", m.Config.Join, "err", err)
		if err := clock.Sleep(ctx, clock.Real{}, retry.Next()); err != nil {
			return fmt.Errorf("join %s: %w", m.Config.Join, err)
		}
	}
}

// apiClient is a client of a node's API at url, with the first of the
// node's tokens and its TLS trust.
func apiClient(url string, tokens []string, httpTLS *tls.Config) (*client.Client, error) {
	token := ""
	if len(tokens) > 0 {
		token = tokens[0]
	}
	var opts []client.Option
	if httpTLS != nil {
		opts = append(opts, client.WithTLSConfig(httpTLS))
	}
	return client.New(url, token, opts...)
}

// forwardTransport carries requests a follower forwards to the leader:
// server.NewForwardTransport (kept-alive connections enough for every
// concurrent forward), trusting httpTLS's CAs when set.
func forwardTransport(httpTLS *tls.Config) http.RoundTripper {
	tr := server.NewForwardTransport()
	if httpTLS != nil {
		tr.TLSClientConfig = httpTLS
	}
	return tr
}

// goRun runs f in a goroutine Close waits for, keeping its error.
func (m *Main) goRun(name string, f func() error) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := f(); err != nil {
			m.Logger.Error("component stopped", "component", name, "err", err)
			m.mu.Lock()
			m.errs = append(m.errs, fmt.Errorf("%s: %w", name, err))
			m.mu.Unlock()
		}
	}()
}

// Close stops the node: API, controller and simulator first (they end with
// the context), then the store.
func (m *Main) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	var errs []error
	if m.srv != nil {
		errs = append(errs, m.srv.Close())
	}
	m.wg.Wait()
	if m.sim != nil {
		errs = append(errs, m.sim.Close())
	}
	if m.sandboxes != "" {
		// The tasks are gone with the simulator; so is what they wrote. A
		// task may have left what sprint cannot remove: that is worth a
		// warning, not a failed shutdown.
		if err := os.RemoveAll(m.sandboxes); err != nil {
			m.Logger.Warn("could not remove the embedded agent's sandboxes", "dir", m.sandboxes, "err", err)
		}
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	m.mu.Lock()
	errs = append(errs, m.errs...)
	m.mu.Unlock()
	return errors.Join(errs...)
}

// frameworkUser is the OS user tasks run as by default: the flag, else the
// user running sprint (Mesos requires one).
func frameworkUser(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}

// noLimit maps a flag's 0 ("no limit") to server.Config's negative.
func noLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
