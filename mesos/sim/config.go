package sim

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/sprint-project/sprint/internal/clock"
)

// Config configures a Master. The zero value of every duration means the
// Mesos 1.10 default named beside it.
type Config struct {
	// MasterID is the master's id, the prefix of framework, offer and agent
	// ids. Empty: a random UUID from the seed.
	MasterID string
	// Hostname is advertised in MasterInfo and used as the default agent
	// hostname. Empty: the listener's host, else "127.0.0.1" — and for the
	// agents of Config.Agents, which register in Start before any
	// listener exists, "127.0.0.1" (or AdvertiseAddr's host): set it when
	// schedulers on other hosts must reach the agents.
	Hostname string
	// AdvertiseAddr is host:port clients reach this simulator at (MasterInfo,
	// Offer.url, slaves[].pid). Empty: set by Serve from the listener.
	AdvertiseAddr string
	// Credentials are the principals and secrets HTTP Basic authentication
	// accepts (principal → secret), as Mesos' --credentials file. They are
	// used only where one of the Authenticate fields asks for them.
	Credentials map[string]string
	// AuthenticateFrameworks requires credentials on /api/v1/scheduler
	// (Mesos' --authenticate_http_frameworks): a request without valid ones
	// gets 401, and a framework's principal must be the authenticated one
	// (400 otherwise); a FrameworkInfo without a principal gets the
	// authenticated one.
	AuthenticateFrameworks bool
	// AuthenticateHTTPReadOnly requires credentials on the read-only
	// endpoints: /master/state (and /state, /master/state.json) and the
	// agents' /files/read (Mesos' --authenticate_http_readonly).
	AuthenticateHTTPReadOnly bool
	// AuthenticateHTTPReadWrite requires credentials on the /sim/v1/ fault
	// controls, the simulator's operator endpoints (Mesos'
	// --authenticate_http_readwrite).
	AuthenticateHTTPReadWrite bool
	// Agents are registered at Start, in order (ids <masterId>-S0, -S1, …).
	Agents []AgentConfig
	// WorkDir holds the process executor's sandboxes
	// (<WorkDir>/slaves/<agent>/frameworks/<fw>/executors/<executor>/runs/<container>).
	// Empty: $TMPDIR/mesos-sim/<MasterID>.
	WorkDir string
	// Seed makes ids, uuids and fault decisions reproducible.
	Seed uint64
	// ExecutorEnvironment is the environment the process executor gives every
	// task before the MESOS_* variables and the task's own
	// CommandInfo.environment, as a Mesos agent's
	// --executor_environment_variables. Nil, as Mesos' default, gives none:
	// a task never inherits the simulator's own environment.
	ExecutorEnvironment map[string]string
	// SwitchUser makes the process executor run each task as its user
	// (CommandInfo.user, else FrameworkInfo.user), as a Mesos agent with
	// --switch_user (Mesos' default; cmd/mesos-sim's too). It needs root
	// unless that user is the simulator's own; a task that cannot be
	// switched (no such user, not root) ends TASK_FAILED. False: every task
	// runs as the simulator's user.
	SwitchUser bool

	// HeartbeatInterval is advertised in SUBSCRIBED and used between HEARTBEAT
	// events (15 s).
	HeartbeatInterval time.Duration
	// AllocationInterval is the batch allocation period (1 s).
	AllocationInterval time.Duration
	// DefaultRefuse is the offer filter used when a DECLINE/ACCEPT carries no
	// filters (5 s).
	DefaultRefuse time.Duration
	// OfferTimeout rescinds offers held longer than this; 0 = never (as Mesos).
	OfferTimeout time.Duration
	// MinAllocatable is the --min_allocatable_resources default ("cpus:0.01|mem:32").
	MinAllocatable string
	// StatusUpdateRetry is the first retry interval of an un-acknowledged
	// status update (10 s); it doubles up to StatusUpdateRetryMax (10 min).
	StatusUpdateRetry    time.Duration
	StatusUpdateRetryMax time.Duration
	// KillGracePeriod is the command executor's SIGTERM→SIGKILL grace (3 s)
	// unless kill_policy says otherwise.
	KillGracePeriod time.Duration
	// LaunchDelay is how long a launched task stays in flight between master
	// and executor (a KILL in this window gives REASON_TASK_KILLED_DURING_LAUNCH).
	LaunchDelay time.Duration
	// AgentPingTimeout is how long a failed agent stays "disconnected" before
	// it is marked unreachable when a fault asks for a timeout (75 s).
	AgentPingTimeout time.Duration
	// FailoverDowntime is how long the master answers 503 after a simulated
	// master failover (2 s); AgentReregisterDelay is when agents re-register
	// afterwards (1 s after the downtime).
	FailoverDowntime     time.Duration
	AgentReregisterDelay time.Duration
	// AgentReregisterTimeout is how long after a master failover an agent
	// that has not re-registered is marked unreachable (10 min).
	AgentReregisterTimeout time.Duration
	// MaxCompletedFrameworks and MaxCompletedTasks bound /master/state (50, 1000).
	MaxCompletedFrameworks int
	MaxCompletedTasks      int
}

// AgentConfig describes one simulated agent.
type AgentConfig struct {
	// Hostname of the agent; empty: the master's hostname.
	Hostname string
	// Resources in mesos-agent --resources syntax,
	// e.g. "cpus:4;mem:8192;disk:10000;ports:[31000-32000]".
	Resources string
	// Attributes in mesos-agent --attributes syntax, e.g. "rack:r1;zone:a".
	Attributes string
	// Executor names how the agent runs tasks: ExecutorSimulated (default)
	// or ExecutorProcess; other names are resolved by the ExecutorFactory.
	Executor string
}

// DefaultAgentResources is what an agent gets when AgentConfig.Resources is empty.
const DefaultAgentResources = "cpus:4;mem:8192;disk:10000;ports:[31000-32000]"

// Option supplies a dependency to New.
type Option func(*deps)

type deps struct {
	clock   clock.Clock
	rand    *rand.Rand
	logger  *slog.Logger
	exec    ExecutorFactory
	observe func(*scheduler.Call)
}

// WithClock injects the clock (default RealClock).
func WithClock(c clock.Clock) Option { return func(d *deps) { d.clock = c } }

// WithRand injects the random source (default seeded from Config.Seed).
// It is only used under the master's lock.
func WithRand(r *rand.Rand) Option { return func(d *deps) { d.rand = r } }

// WithExecutorFactory replaces DefaultExecutorFactory, to plug in other
// executors per agent.
func WithExecutorFactory(f ExecutorFactory) Option { return func(d *deps) { d.exec = f } }

// WithLogger injects the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(d *deps) { d.logger = l } }

func (c *Config) setDefaults() error {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HeartbeatInterval, 15*time.Second)
	def(&c.AllocationInterval, time.Second)
	def(&c.DefaultRefuse, 5*time.Second)
	def(&c.StatusUpdateRetry, 10*time.Second)
	def(&c.StatusUpdateRetryMax, 10*time.Minute)
	def(&c.KillGracePeriod, 3*time.Second)
	def(&c.AgentPingTimeout, 75*time.Second)
	def(&c.FailoverDowntime, 2*time.Second)
	def(&c.AgentReregisterDelay, time.Second)
	def(&c.AgentReregisterTimeout, 10*time.Minute)
	if c.MinAllocatable == "" {
		c.MinAllocatable = "cpus:0.01|mem:32"
	}
	if c.MaxCompletedFrameworks <= 0 {
		c.MaxCompletedFrameworks = 50
	}
	if c.MaxCompletedTasks <= 0 {
		c.MaxCompletedTasks = 1000
	}
	if c.LaunchDelay < 0 || c.OfferTimeout < 0 {
		return fmt.Errorf("negative LaunchDelay or OfferTimeout")
	}
	if err := c.checkAuthentication(); err != nil {
		return err
	}
	if err := checkEnvironment(c.ExecutorEnvironment); err != nil {
		return fmt.Errorf("executor environment: %w", err)
	}
	for i, a := range c.Agents {
		if a.Resources == "" {
			c.Agents[i].Resources = DefaultAgentResources
		}
		if _, err := parseResources(c.Agents[i].Resources); err != nil {
			return fmt.Errorf("agent %d: %w", i, err)
		}
		if _, err := parseAttributes(a.Attributes); err != nil {
			return fmt.Errorf("agent %d: %w", i, err)
		}
	}
	return nil
}
