package apis

import (
	"time"
)

// APIVersion is the apiVersion of every object this package defines.
const APIVersion = "sprint/v1"

// Kinds of objects served by the API.
const (
	KindRun          = "Run"
	KindRunList      = "RunList"
	KindSchedule     = "Schedule"
	KindScheduleList = "ScheduleList"
	KindNotifier     = "Notifier"
	KindNotifierList = "NotifierList"
	KindStatus       = "Status"
)

// TypeMeta names the schema of a serialized object.
type TypeMeta struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

// ObjectMeta is the metadata every stored object carries. Fields below
// Annotations are set by the server and ignored (or checked as
// preconditions) on writes.
type ObjectMeta struct {
	// Name is a DNS-1123 label, unique among Runs.
	Name string `json:"name,omitempty" jsonschema:"maxLength=63,pattern=^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"`
	// GenerateName is a prefix the server completes with a random suffix
	// when Name is empty on create.
	GenerateName string            `json:"generateName,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`

	// UID is unique per object ever created, also across delete and re-create.
	UID string `json:"uid,omitempty"`
	// ResourceVersion is the Raft index of the object's last change, as a
	// decimal string. On update it is a precondition when set.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Generation is bumped on every change of the spec.
	Generation        int64      `json:"generation,omitempty"`
	CreationTimestamp *time.Time `json:"creationTimestamp,omitempty"`
	// DeletionTimestamp is set when a delete was requested while the Run's
	// task was still live; the object goes once the task is terminal.
	DeletionTimestamp *time.Time `json:"deletionTimestamp,omitempty"`
	// OwnerReferences names the objects this one belongs to, as Kubernetes
	// does: a Run fired by a Schedule names that Schedule. Set by the
	// server; deleting the owner deletes the object unless the delete
	// asks to orphan it.
	OwnerReferences []OwnerReference `json:"ownerReferences,omitempty"`
}

// OwnerReference points at the object that owns another one. The UID pins
// the owner: a re-created owner of the same name owns nothing of the old.
type OwnerReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
	// Controller marks the owner that manages the object (a Schedule for
	// the Runs it fired).
	Controller bool `json:"controller,omitempty"`
}

// Run is a one-off task: the desired spec a user applies and the status the
// controller observes from Mesos.
type Run struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta `json:"metadata"`
	Spec     RunSpec    `json:"spec"`
	Status   RunStatus  `json:"status,omitempty"`
}

// RunSpec is the desired state of a Run. It is immutable once created except
// for ActiveDeadlineSeconds, TTLSecondsAfterFinished and Cancel.
type RunSpec struct {
	// Command is run by a shell (sh -c). Exactly one of Command and Args,
	// unless a container image supplies its own entrypoint.
	Command string `json:"command,omitempty"`
	// Args is the exec form: Args[0] is the program.
	Args []string `json:"args,omitempty"`
	// Env is added to the task's environment.
	Env map[string]string `json:"env,omitempty"`
	// User is the OS user on the agent; empty means the framework user.
	User string `json:"user,omitempty"`

	// Cpus is required, 0.001 (MinScalar) to 1024.
	Cpus float64 `json:"cpus" jsonschema:"minimum=0.001,maximum=1024"`
	// Mem is in MiB, required, at least 0.001.
	Mem float64 `json:"mem" jsonschema:"minimum=0.001,maximum=16777216"`
	// Disk is in MiB.
	Disk float64 `json:"disk,omitempty" jsonschema:"minimum=0,maximum=1073741824"`
	Gpus int32   `json:"gpus,omitempty" jsonschema:"minimum=0,maximum=64"`

	// Container is optional; absent means a plain Mesos command task.
	Container *Container `json:"container,omitempty"`
	// URIs are fetched into the sandbox before the task starts.
	URIs []URI `json:"uris,omitempty"`
	// Constraints are Marathon-style: [field, OPERATOR, value?], where field
	// is "hostname" or an agent attribute and OPERATOR one of LIKE, UNLIKE,
	// UNIQUE, CLUSTER, MAX_PER.
	Constraints [][]string `json:"constraints,omitempty"`

	// ActiveDeadlineSeconds kills the task if it is still running after
	// this many seconds since it started; 0 means no deadline.
	ActiveDeadlineSeconds int64 `json:"activeDeadlineSeconds,omitempty" jsonschema:"minimum=0,maximum=315360000"`
	// BackoffLimit is the number of relaunches after a Failed or Lost
	// attempt; 0 means never (Sprint's behaviour).
	BackoffLimit int32 `json:"backoffLimit,omitempty" jsonschema:"minimum=0,maximum=100"`
	// TTLSecondsAfterFinished is the per-Run garbage collection age; nil
	// means the server's --gc-max-age.
	TTLSecondsAfterFinished *int64 `json:"ttlSecondsAfterFinished,omitempty" jsonschema:"minimum=0,maximum=315360000"`
	// Cancel kills the task and keeps the record (phase Killed, reason
	// Cancelled).
	Cancel bool `json:"cancel,omitempty"`

	// DependsOn lists Runs that must reach a phase before this one is
	// launched. Until then the Run is Pending with reason
	// WaitingForDependencies; when a dependency ends in a phase that can
	// never meet its condition, the Run ends Failed with reason
	// DependencyFailed without being launched. Immutable like the rest of
	// the spec.
	DependsOn []RunDependency `json:"dependsOn,omitempty" jsonschema:"maxItems=64"`
}

// Dependency conditions of a RunDependency.
const (
	// ConditionSucceeded is met when the dependency Succeeded (the default).
	ConditionSucceeded = "Succeeded"
	// ConditionFailed is met when the dependency Failed or was Killed.
	ConditionFailed = "Failed"
	// ConditionCompleted is met when the dependency reached any terminal
	// phase.
	ConditionCompleted = "Completed"
)

// RunDependency is one entry of RunSpec.DependsOn.
type RunDependency struct {
	// Name is the Run depended on; it need not exist yet.
	Name string `json:"name"`
	// Condition is Succeeded (default), Failed or Completed.
	Condition string `json:"condition,omitempty" jsonschema:"enum=Succeeded,enum=Failed,enum=Completed"`
}

// Container types.
const (
	ContainerDocker = "DOCKER"
	ContainerMesos  = "MESOS"
)

// Network modes.
const (
	NetworkHost   = "HOST"
	NetworkBridge = "BRIDGE"
	NetworkUser   = "USER"
)

// Container describes the image a task runs in.
type Container struct {
	// Type is DOCKER (Docker containerizer) or MESOS (Mesos containerizer
	// running a Docker image).
	Type   string      `json:"type" jsonschema:"enum=DOCKER,enum=MESOS"`
	Docker *DockerInfo `json:"docker,omitempty"`
	// Network is HOST, BRIDGE or USER; USER needs Networks.
	Network      string        `json:"network,omitempty" jsonschema:"enum=HOST,enum=BRIDGE,enum=USER"`
	Networks     []Network     `json:"networks,omitempty"`
	PortMappings []PortMapping `json:"portMappings,omitempty"`
	Volumes      []Volume      `json:"volumes,omitempty"`
}

// DockerInfo names the image and Docker-specific options.
type DockerInfo struct {
	Image          string      `json:"image"`
	ForcePullImage bool        `json:"forcePullImage,omitempty"`
	Parameters     []Parameter `json:"parameters,omitempty"`
}

// Parameter is a key/value passed to the container runtime (docker run --key=value).
type Parameter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Network is a named user network (network USER).
type Network struct {
	Name string `json:"name"`
}

// PortMapping maps a container port to a host port; HostPort 0 means a port
// taken from the offer.
type PortMapping struct {
	ContainerPort int32  `json:"containerPort" jsonschema:"minimum=0,maximum=65535"`
	HostPort      int32  `json:"hostPort,omitempty" jsonschema:"minimum=0,maximum=65535"`
	Protocol      string `json:"protocol,omitempty" jsonschema:"enum=tcp,enum=udp,enum=tcp\\,udp,enum=udp\\,tcp"`
	Name          string `json:"name,omitempty"`
}

// Volume modes.
const (
	VolumeRO = "RO"
	VolumeRW = "RW"
)

// Volume mounts a host path into the container.
type Volume struct {
	ContainerPath string `json:"containerPath"`
	HostPath      string `json:"hostPath"`
	Mode          string `json:"mode,omitempty" jsonschema:"enum=RO,enum=RW"`
}

// URI is fetched by the Mesos fetcher into the task's sandbox.
type URI struct {
	Value string `json:"value"`
	// Extract unpacks archives; nil means true, as Mesos does.
	Extract    *bool `json:"extract,omitempty"`
	Executable bool  `json:"executable,omitempty"`
	Cache      bool  `json:"cache,omitempty"`
}

// RunPhase is the coarse state of a Run.
type RunPhase string

// Run phases. Succeeded, Failed and Killed are terminal.
const (
	PhasePending   RunPhase = "Pending"
	PhaseStarting  RunPhase = "Starting"
	PhaseRunning   RunPhase = "Running"
	PhaseSucceeded RunPhase = "Succeeded"
	PhaseFailed    RunPhase = "Failed"
	PhaseKilled    RunPhase = "Killed"
)

// Terminal reports whether no further transitions follow p.
func (p RunPhase) Terminal() bool {
	return p == PhaseSucceeded || p == PhaseFailed || p == PhaseKilled
}

// Reasons explain a Run's status, mostly on terminal phases. The set is
// closed: the controller writes no other value.
const (
	ReasonCompleted            = "Completed"
	ReasonTaskFailed           = "TaskFailed"
	ReasonTaskLost             = "TaskLost"
	ReasonTaskError            = "TaskError"
	ReasonTaskKilled           = "TaskKilled"
	ReasonDeadlineExceeded     = "DeadlineExceeded"
	ReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	ReasonCancelled            = "Cancelled"
	ReasonAgentGone            = "AgentGone"
	ReasonStagingTimeout       = "StagingTimeout"
	ReasonUnreachable          = "Unreachable"
	ReasonUnschedulable        = "Unschedulable"
	ReasonBackoff              = "BackOff"
	ReasonDeleted              = "Deleted"
	// ReasonWaitingForDependencies: Pending until spec.dependsOn is met.
	ReasonWaitingForDependencies = "WaitingForDependencies"
	// ReasonDependencyFailed: a dependency ended in a phase that can never
	// meet its condition; the Run was never launched.
	ReasonDependencyFailed = "DependencyFailed"
	// ReasonReplaced: a Schedule with concurrencyPolicy Replace cancelled
	// the Run for a newer firing.
	ReasonReplaced = "Replaced"
)

// RunStatus is the observed state of a Run, written by the controller only.
type RunStatus struct {
	Phase   RunPhase `json:"phase,omitempty" jsonschema:"enum=Pending,enum=Starting,enum=Running,enum=Succeeded,enum=Failed,enum=Killed"`
	Reason  string   `json:"reason,omitempty"`
	Message string   `json:"message,omitempty"`
	// Attempts counts launched attempts, including the current one.
	Attempts int32 `json:"attempts,omitempty"`
	// TaskID is the Mesos task ID of the current or last attempt, unique
	// per attempt: "<name>.<attempt>.<random>".
	TaskID   string  `json:"taskID,omitempty"`
	AgentID  string  `json:"agentID,omitempty"`
	Hostname string  `json:"hostname,omitempty"`
	Ports    []int32 `json:"ports,omitempty"`
	// ExitCode is set when the executor reported one.
	ExitCode           *int32     `json:"exitCode,omitempty"`
	MesosState         string     `json:"mesosState,omitempty"`
	StartTime          *time.Time `json:"startTime,omitempty"`
	CompletionTime     *time.Time `json:"completionTime,omitempty"`
	LastTransitionTime *time.Time `json:"lastTransitionTime,omitempty"`
	ObservedGeneration int64      `json:"observedGeneration,omitempty"`
}

// ListMeta is the metadata of a list.
type ListMeta struct {
	// ResourceVersion is the store's applied index when the list was read;
	// a watch from it misses nothing.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Continue is an opaque token for the next page; empty on the last.
	Continue string `json:"continue,omitempty"`
	// RemainingItemCount is how many items follow this page, when known.
	RemainingItemCount *int64 `json:"remainingItemCount,omitempty"`
}

// RunList is a page of Runs.
type RunList struct {
	TypeMeta `json:",inline"`
	Metadata ListMeta `json:"metadata"`
	Items    []Run    `json:"items"`
}

// EventType is the type of a WatchEvent.
type EventType string

// Watch event types, as Kubernetes names them.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	Bookmark EventType = "BOOKMARK"
	Error    EventType = "ERROR"
)

// SelectedEvent is the event a watch with a selector sends for a change of
// type typ to an object that matched the selector before the change (was)
// and matches it after (now), as the Kubernetes API server's watch cache
// decides it: a MODIFIED change is ADDED to the selection when the object
// starts to match, DELETED from it when it stops, MODIFIED when it matches
// before and after, and not sent (false) when it matches neither. Any
// other change is sent as it is when the object matches (for DELETED,
// its last state): was is not looked at. The store and its test fake both
// decide with it, so that a fake cannot promise other events.
func SelectedEvent(typ EventType, was, now bool) (EventType, bool) {
	if typ != Modified {
		return typ, now
	}
	switch {
	case now && was:
		return Modified, true
	case now:
		return Added, true
	case was:
		return Deleted, true
	}
	return "", false
}

// InitialEventsEndAnnotation marks the BOOKMARK that ends the initial
// listing of a watch started without a resourceVersion (value "true"), as
// Kubernetes' "k8s.io/initial-events-end": every matching Run has been
// sent as ADDED, and the bookmark's resourceVersion is the version of that
// listing. A watcher that relists this way knows, at this event, which Runs
// are gone.
const InitialEventsEndAnnotation = "sprint/initial-events-end"

// WatchEvent is one change of a Run. Object is the Run after the change
// (before it, for DELETED, with the delete's resourceVersion), or a Status
// for ERROR events.
type WatchEvent struct {
	Type   EventType `json:"type"`
	Object any       `json:"object"`
}

// RunEvent is one entry of a Run's bounded event history, shown by
// sprintctl describe.
type RunEvent struct {
	Time time.Time `json:"time"`
	// Type is Normal or Warning.
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// Count folds repeats of the same reason and message.
	Count int32 `json:"count,omitempty"`
}

// Event types of a RunEvent.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Attempt is one launch of a Run's task, recorded in the store before the
// task is launched so that a new leader never launches a second one.
type Attempt struct {
	Run     string `json:"run"`
	Number  int32  `json:"number"`
	TaskID  string `json:"taskID"`
	AgentID string `json:"agentID,omitempty"`
	// LaunchTime is when the launch was recorded.
	LaunchTime time.Time `json:"launchTime"`
	// Terminal is set once Mesos reported a terminal state for the task.
	Terminal bool `json:"terminal,omitempty"`
}
