package mesos

import (
	"fmt"
	"net/url"
	"os/user"
	"strings"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultFrameworkName   = "sprint"
	DefaultRole            = "*"
	DefaultFailoverTimeout = 168 * time.Hour
	DefaultCodec           = codecs.NameProtobuf
	DefaultMinBackoff      = 500 * time.Millisecond
	DefaultMaxBackoff      = 15 * time.Second
	DefaultHeartbeatMisses = 5
	DefaultTimeout         = 15 * time.Second
	DefaultMaxRedirects    = 5

	// defaultHeartbeat is assumed when SUBSCRIBED carries no interval;
	// Mesos 1.10 always sends 15 s.
	defaultHeartbeat = 15 * time.Second
	// schedulerPath is the v1 scheduler endpoint on a master.
	schedulerPath = "/api/v1/scheduler"
)

// Config configures a Scheduler. Zero fields take the defaults above.
type Config struct {
	// Masters are the master URLs, e.g. "http://m1:5050". A URL without a
	// path gets /api/v1/scheduler; "host:port" gets http://. Any master
	// will do: the client follows the leader's 307 redirects.
	Masters []string
	// FrameworkName is FrameworkInfo.name.
	FrameworkName string
	// Role is the framework's single role, sent in FrameworkInfo.roles
	// (MULTI_ROLE). Default "*".
	Role string
	// User is the OS user tasks run as unless a Run names its own;
	// default: the user running this process.
	User string
	// Principal identifies the framework to Mesos; with Secret it is also
	// the HTTP basic-auth user name.
	Principal string
	// Secret enables HTTP basic authentication (Principal:Secret).
	Secret string
	// FailoverTimeout is how long Mesos keeps the framework's tasks while
	// it is disconnected. Default one week. Negative means 0: Mesos then
	// removes the framework, and kills its tasks, as soon as the
	// connection drops.
	FailoverTimeout time.Duration
	// DisableCheckpoint turns agent checkpointing off (default on, so tasks
	// survive agent restarts).
	DisableCheckpoint bool
	// GPUResources adds the GPU_RESOURCES capability: without it Mesos
	// offers no resources of agents that have GPUs.
	GPUResources bool
	// Hostname and WebUIURL are shown in the Mesos UI.
	Hostname string
	WebUIURL string
	// Codec is "protobuf" (default) or "json".
	Codec string
	// MinBackoff and MaxBackoff bound the jittered exponential back-off
	// between subscription attempts.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// HeartbeatMisses is how many heartbeat intervals may pass without
	// any event before the subscription is dropped and renewed.
	HeartbeatMisses int
	// Timeout bounds connecting and waiting for response headers of every
	// call, and the wait for the first event of a subscription.
	Timeout time.Duration
	// MaxRedirects bounds the 307 redirects followed per request.
	MaxRedirects int
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() (Config, error) {
	if c.FrameworkName == "" {
		c.FrameworkName = DefaultFrameworkName
	}
	if c.Role == "" {
		c.Role = DefaultRole
	}
	if c.User == "" {
		u, err := user.Current()
		if err != nil {
			return c, fmt.Errorf("default framework user: %w", err)
		}
		c.User = u.Username
	}
	switch {
	case c.FailoverTimeout == 0:
		c.FailoverTimeout = DefaultFailoverTimeout
	case c.FailoverTimeout < 0:
		c.FailoverTimeout = 0
	}
	if c.Codec == "" {
		c.Codec = DefaultCodec
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.HeartbeatMisses <= 0 {
		c.HeartbeatMisses = DefaultHeartbeatMisses
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxRedirects <= 0 {
		c.MaxRedirects = DefaultMaxRedirects
	}
	return c, nil
}

// codec returns the mesos-go codec named by c.Codec.
func (c Config) codec() (encoding.Codec, error) {
	switch strings.ToLower(c.Codec) {
	case codecs.NameProtobuf, "":
		return codecs.ByMediaType[codecs.MediaTypeProtobuf], nil
	case codecs.NameJSON:
		return codecs.ByMediaType[codecs.MediaTypeJSON], nil
	}
	return encoding.Codec{}, fmt.Errorf("codec %q: want protobuf or json: %w", c.Codec, ErrInvalidConfig)
}

// masterURLs parses c.Masters into scheduler endpoint URLs.
func (c Config) masterURLs() ([]*url.URL, error) {
	if len(c.Masters) == 0 {
		return nil, fmt.Errorf("no master URL: %w", ErrInvalidConfig)
	}
	out := make([]*url.URL, 0, len(c.Masters))
	for _, m := range c.Masters {
		u, err := ParseMasterURL(m)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// ParseMasterURL turns "host:port", "http://host:port" or a full endpoint
// URL into the master's scheduler endpoint URL.
func ParseMasterURL(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("master URL %q: %w", s, ErrInvalidConfig)
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("master URL %q: want http(s)://host:port: %w", s, ErrInvalidConfig)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = schedulerPath
	}
	return u, nil
}

// frameworkInfo builds the FrameworkInfo sent on SUBSCRIBE; id may be empty.
func (c Config) frameworkInfo(id string) *mesosproto.FrameworkInfo {
	checkpoint := !c.DisableCheckpoint
	failover := c.FailoverTimeout.Seconds()
	fi := &mesosproto.FrameworkInfo{
		User:            c.User,
		Name:            c.FrameworkName,
		Roles:           []string{c.Role},
		FailoverTimeout: &failover,
		Checkpoint:      &checkpoint,
		Capabilities: []mesosproto.FrameworkInfo_Capability{
			{Type: mesosproto.FrameworkInfo_Capability_MULTI_ROLE},
			{Type: mesosproto.FrameworkInfo_Capability_PARTITION_AWARE},
			{Type: mesosproto.FrameworkInfo_Capability_TASK_KILLING_STATE},
		},
	}
	if c.GPUResources {
		fi.Capabilities = append(fi.Capabilities,
			mesosproto.FrameworkInfo_Capability{Type: mesosproto.FrameworkInfo_Capability_GPU_RESOURCES})
	}
	if id != "" {
		fi.ID = &mesosproto.FrameworkID{Value: id}
	}
	if c.Principal != "" {
		fi.Principal = &c.Principal
	}
	if c.Hostname != "" {
		fi.Hostname = &c.Hostname
	}
	if c.WebUIURL != "" {
		fi.WebUiURL = &c.WebUIURL
	}
	return fi
}
