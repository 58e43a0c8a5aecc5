package client

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sprint-project/sprint/apis"
)

// TestKind_Typed checks what apiVersion and kind each kind sends: a Run
// fills in only what it leaves empty (one naming another kind reaches the
// server as it is, to be refused), a Schedule and a Notifier always name
// themselves; the caller's object is never written.
func TestKind_Typed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   apis.TypeMeta
		got  func(apis.TypeMeta) apis.TypeMeta
		want apis.TypeMeta
	}{
		{"run, empty", apis.TypeMeta{}, typedRun, apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun}},
		{"run, another kind", apis.TypeMeta{APIVersion: "x/v9", Kind: "Job"}, typedRun, apis.TypeMeta{APIVersion: "x/v9", Kind: "Job"}},
		{"schedule, empty", apis.TypeMeta{}, typedSchedule, apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindSchedule}},
		{"schedule, another kind", apis.TypeMeta{APIVersion: "x/v9", Kind: "Job"}, typedSchedule, apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindSchedule}},
		{"notifier, another kind", apis.TypeMeta{APIVersion: "x/v9", Kind: "Job"}, typedNotifier, apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindNotifier}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got(tt.in), tt.name)
	}
	var s apis.Schedule
	scheduleKind.typed(&s)
	assert.Equal(t, apis.TypeMeta{}, s.TypeMeta, "typed never writes to its argument")
}

func typedRun(tm apis.TypeMeta) apis.TypeMeta {
	r := apis.Run{TypeMeta: tm}
	return runKind.typed(&r).TypeMeta
}

func typedSchedule(tm apis.TypeMeta) apis.TypeMeta {
	s := apis.Schedule{TypeMeta: tm}
	return scheduleKind.typed(&s).TypeMeta
}

func typedNotifier(tm apis.TypeMeta) apis.TypeMeta {
	n := apis.Notifier{TypeMeta: tm}
	return notifierKind.typed(&n).TypeMeta
}
