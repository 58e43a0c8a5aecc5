package apis

import "time"

// Notification triggers of NotifierSpec.On.
const (
	NotifySucceeded        = "Succeeded"
	NotifyFailed           = "Failed"
	NotifyKilled           = "Killed"
	NotifyDependencyFailed = "DependencyFailed"
	NotifyMissed           = "Missed"
	NotifyUnschedulable    = "Unschedulable"
)

// Webhook payload formats.
const (
	FormatJSON      = "json"
	FormatSlack     = "slack"
	FormatPagerDuty = "pagerduty"
)

// Notifier sends a notification to one target when a Run or Schedule that
// its selector matches reaches one of the events in On.
type Notifier struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta     `json:"metadata"`
	Spec     NotifierSpec   `json:"spec"`
	Status   NotifierStatus `json:"status,omitempty"`
}

// NotifierSpec selects what is notified about and where it goes. Exactly
// one of Webhook and Email is set.
type NotifierSpec struct {
	// Selector is a label selector over Runs and Schedules; empty selects
	// everything.
	Selector string `json:"selector,omitempty" jsonschema:"maxLength=1024"`
	// On lists the events that notify: Succeeded, Failed, Killed,
	// DependencyFailed, Missed, Unschedulable.
	On []string `json:"on,omitempty" jsonschema:"minItems=1,maxItems=6"`
	// UnschedulableAfter is how long a Run must have been unschedulable
	// before the Unschedulable event fires (a Go duration; default 5m).
	UnschedulableAfter string       `json:"unschedulableAfter,omitempty" jsonschema:"maxLength=64"`
	Webhook            *Webhook     `json:"webhook,omitempty"`
	Email              *EmailTarget `json:"email,omitempty"`
}

// Webhook is an HTTP POST target.
type Webhook struct {
	URL string `json:"url" jsonschema:"maxLength=2048"`
	// Format is json (default), slack or pagerduty.
	Format string `json:"format,omitempty" jsonschema:"enum=json,enum=slack,enum=pagerduty"`
	// SecretFile is a file on the server holding the HMAC-SHA256 signing
	// secret (and the PagerDuty routing key for format pagerduty).
	SecretFile string            `json:"secretFile,omitempty" jsonschema:"maxLength=4096"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// EmailTarget sends mail through an SMTP server.
type EmailTarget struct {
	// SMTP is host:port.
	SMTP string `json:"smtp" jsonschema:"maxLength=256"`
	From string `json:"from" jsonschema:"maxLength=256"`
	// To lists addresses; "{owner}" stands for the object's sprint/owner
	// annotation.
	To           []string `json:"to,omitempty" jsonschema:"minItems=1,maxItems=64"`
	StartTLS     bool     `json:"startTLS,omitempty"`
	UsernameFile string   `json:"usernameFile,omitempty" jsonschema:"maxLength=4096"`
	PasswordFile string   `json:"passwordFile,omitempty" jsonschema:"maxLength=4096"`
}

// NotifierStatus counts deliveries.
type NotifierStatus struct {
	Delivered int64 `json:"delivered,omitempty"`
	Failed    int64 `json:"failed,omitempty"`
	Pending   int64 `json:"pending,omitempty"`
	// LastError is the last delivery error, with its time.
	LastError     string     `json:"lastError,omitempty"`
	LastErrorTime *time.Time `json:"lastErrorTime,omitempty"`
}

// NotifierList is a page of Notifiers.
type NotifierList struct {
	TypeMeta `json:",inline"`
	Metadata ListMeta   `json:"metadata"`
	Items    []Notifier `json:"items"`
}
