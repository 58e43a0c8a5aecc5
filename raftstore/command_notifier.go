package raftstore

import (
	"fmt"

	"github.com/sprint-project/sprint/apis"
)

// createNotifierCmd carries a Notifier whose UID and creation time the
// Store chose before Apply.
type createNotifierCmd struct {
	Notifier apis.Notifier `json:"notifier"`
}

// updateNotifierCmd replaces a Notifier's labels, annotations and spec and
// keeps its status. ExpectUID and ExpectRV, when set, are preconditions.
type updateNotifierCmd struct {
	Notifier  apis.Notifier `json:"notifier"`
	ExpectUID string        `json:"expectUID,omitempty"`
	ExpectRV  string        `json:"expectRV,omitempty"`
}

// deleteNotifierCmd removes a Notifier with its outbox records.
type deleteNotifierCmd struct {
	Name     string `json:"name"`
	UID      string `json:"uid,omitempty"`
	ExpectRV string `json:"expectRV,omitempty"`
}

// outboxDoneCmd removes delivered or finally failed records from the
// outbox and counts them in their Notifiers' status.
type outboxDoneCmd struct {
	Results []apis.NotificationResult `json:"results"`
}

// maxOutboxDone bounds the results of one outbox_done entry.
const maxOutboxDone = 1024

func notifierCmdName(t cmdType) string {
	switch t {
	case cmdCreateNotifier:
		return "create_notifier"
	case cmdUpdateNotifier:
		return "update_notifier"
	case cmdDeleteNotifier:
		return "delete_notifier"
	}
	return "outbox_done"
}

func newNotifierCmd(t cmdType) any {
	switch t {
	case cmdCreateNotifier:
		return &createNotifierCmd{}
	case cmdUpdateNotifier:
		return &updateNotifierCmd{}
	case cmdDeleteNotifier:
		return &deleteNotifierCmd{}
	}
	return &outboxDoneCmd{}
}

// validateNotifierCommand is validateCommand for the notifier commands:
// a created Notifier is valid, names are set, results are bounded.
func validateNotifierCommand(v any) error {
	switch c := v.(type) {
	case *createNotifierCmd:
		n := newStoredNotifier(&c.Notifier)
		if errs := apis.ValidateNotifier(&n); len(errs) > 0 {
			return &apis.InvalidError{Kind: apis.KindNotifier, Name: n.Metadata.Name, Errors: errs}
		}
	case *updateNotifierCmd:
		if c.Notifier.Metadata.Name == "" {
			return fmt.Errorf("update notifier: no name: %w", apis.ErrBadRequest)
		}
	case *deleteNotifierCmd:
		if c.Name == "" {
			return fmt.Errorf("delete notifier: no name: %w", apis.ErrBadRequest)
		}
	case *outboxDoneCmd:
		if len(c.Results) == 0 || len(c.Results) > maxOutboxDone {
			return fmt.Errorf("outbox done: %d results, want 1 to %d: %w", len(c.Results), maxOutboxDone, apis.ErrBadRequest)
		}
		for i, r := range c.Results {
			if r.ID == "" || len(r.ID) > 256 || len(r.Error) > maxLastErrorBytes*2 {
				return fmt.Errorf("outbox done: result %d: bad id or error: %w", i, apis.ErrBadRequest)
			}
		}
	}
	return nil
}

// newStoredNotifier is the Notifier a create entry stores, but for its
// resourceVersion: generation 1, no deletion, an empty status.
func newStoredNotifier(n *apis.Notifier) apis.Notifier {
	out := *n
	out.APIVersion, out.Kind = apis.APIVersion, apis.KindNotifier
	out.Metadata.Generation = 1
	out.Metadata.DeletionTimestamp = nil
	out.Status = apis.NotifierStatus{}
	return out
}
