package apis

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSelectedEvent: a change seen through a selector, as the Kubernetes
// watch cache decides it.
func TestSelectedEvent(t *testing.T) {
	tests := []struct {
		typ      EventType
		was, now bool
		want     EventType // "": not sent
	}{
		{Modified, true, true, Modified},
		{Modified, false, true, Added},
		{Modified, true, false, Deleted},
		{Modified, false, false, ""},
		{Added, false, true, Added},
		{Added, false, false, ""},
		{Deleted, true, true, Deleted},
		{Deleted, false, false, ""},
	}
	for _, tc := range tests {
		got, ok := SelectedEvent(tc.typ, tc.was, tc.now)
		assert.Equal(t, tc.want != "", ok, "%s was=%v now=%v", tc.typ, tc.was, tc.now)
		if ok {
			assert.Equal(t, tc.want, got, "%s was=%v now=%v", tc.typ, tc.was, tc.now)
		}
	}
}
