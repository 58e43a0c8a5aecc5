package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/internal/cron"
)

func TestPlanCron_CatchUpAndDeadlinesInTimeZones(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	inBerlin := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, berlin)
		require.NoError(t, err)
		return v
	}
	utc := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04:05", s)
		require.NoError(t, err)
		return v
	}
	secs := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		name           string
		expr, tz       string
		base, now      time.Time
		deadline       *int64
		due, next      time.Time
		missed         int64
		late           bool
		maxComputation time.Duration
	}{
		{
			name: "@every: not due yet; the first firing is a period after creation, on the second",
			expr: "@every 1m", base: utc("2026-12-04 12:00:00").Add(500 * time.Millisecond), now: utc("2026-12-04 12:00:30"),
			next: utc("2026-12-04 12:01:00"),
		},
		{
			name: "@every: due exactly now",
			expr: "@every 2s", base: utc("2026-12-04 12:00:00"), now: utc("2026-12-04 12:00:02"),
			due: utc("2026-12-04 12:00:02"), next: utc("2026-12-04 12:00:04"),
		},
		{
			name: "@every 1s after 30 days down: one catch-up, the rest counted arithmetically",
			expr: "@every 1s", base: utc("2026-11-01 00:00:00"), now: utc("2026-12-01 00:00:00").Add(300 * time.Millisecond),
			due: utc("2026-12-01 00:00:00"), next: utc("2026-12-01 00:00:01"), missed: 30*86400 - 1,
			maxComputation: 10 * time.Millisecond,
		},
		{
			name: "five-minutely after 17 minutes down fires the most recent, counts two",
			expr: "*/5 * * * *", base: utc("2026-12-04 12:00:00"), now: utc("2026-12-04 12:17:00"),
			due: utc("2026-12-04 12:15:00"), next: utc("2026-12-04 12:20:00"), missed: 2,
		},
		{
			name: "… within startingDeadlineSeconds it still fires",
			expr: "*/5 * * * *", base: utc("2026-12-04 12:00:00"), now: utc("2026-12-04 12:17:00"), deadline: secs(300),
			due: utc("2026-12-04 12:15:00"), next: utc("2026-12-04 12:20:00"), missed: 2,
		},
		{
			name: "… past startingDeadlineSeconds nothing fires and all three are missed",
			expr: "*/5 * * * *", base: utc("2026-12-04 12:00:00"), now: utc("2026-12-04 12:17:00"), deadline: secs(60),
			due: utc("2026-12-04 12:15:00"), next: utc("2026-12-04 12:20:00"), missed: 3, late: true,
		},
		{
			name: "every minute after 30 days down: counted to the bound, then extrapolated",
			expr: "* * * * *", base: utc("2026-11-01 00:00:00"), now: utc("2026-12-01 00:00:30"),
			due: utc("2026-12-01 00:00:00"), next: utc("2026-12-01 00:01:00"), missed: 30*24*60 - 1,
			maxComputation: 200 * time.Millisecond,
		},
		{
			name: "02:30 Berlin across the fall-back night fires once that night: two missed",
			expr: "30 2 * * *", tz: "Europe/Berlin", base: inBerlin("2026-10-24 02:30:00"), now: inBerlin("2026-10-27 12:00:00"),
			due: inBerlin("2026-10-27 02:30:00"), next: inBerlin("2026-10-28 02:30:00"), missed: 2,
		},
		{
			name: "02:30 Berlin across the spring-forward night: that night has none",
			expr: "30 2 * * *", tz: "Europe/Berlin", base: inBerlin("2026-03-28 02:30:00"), now: inBerlin("2026-03-30 12:00:00"),
			due: inBerlin("2026-03-30 02:30:00"), next: inBerlin("2026-03-31 02:30:00"),
		},
		{
			name: "hourly in New York across fall-back: the repeated 1 a.m. fires once",
			expr: "0 * * * *", tz: "America/New_York", base: time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC) /* 00:00 EDT */, now: time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC), /* 03:30 EST */
			due: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC), next: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), missed: 2,
		},
		{
			name: "29 February, not due for years",
			expr: "0 0 29 2 *", base: utc("2026-03-01 00:00:00"), now: utc("2026-06-01 00:00:00"),
			next: utc("2028-02-29 00:00:00"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := cron.Parse(tc.expr, tc.tz)
			require.NoError(t, err)
			start := time.Now()
			p := planCron(s, tc.base, tc.now, tc.deadline)
			if tc.maxComputation > 0 {
				// Generous for a loaded machine: the uncapped loop takes
				// seconds, not milliseconds.
				assert.Less(t, time.Since(start), 10*tc.maxComputation)
			}
			assert.True(t, p.Due.Equal(tc.due), "due %s, want %s", p.Due, tc.due)
			assert.True(t, p.Next.Equal(tc.next), "next %s, want %s", p.Next, tc.next)
			assert.Equal(t, tc.missed, p.Missed)
			assert.Equal(t, tc.late, p.Late)
		})
	}
}

func TestFiringNames(t *testing.T) {
	at := time.Unix(1764849600, 0)
	assert.Equal(t, "nightly-1764849600-0", firingName("nightly", at, 0))
	for _, tc := range []struct {
		schedule, run string
		want          int64
		ok            bool
	}{
		{"nightly", "nightly-1764849600-0", 1764849600, true},
		{"nightly", "nightly-1764849600-12", 1764849600, true},
		{"a-b", "a-b-17-3", 17, true},
		{"nightly", "nightly-manual-1", 0, false},
		{"nightly", "nightly-17", 0, false},
		{"nightly", "nightly-17-x", 0, false},
		{"nightly", "other-17-0", 0, false},
		{"nightly", "nightly-99999999999999999999-0", 0, false},
	} {
		got, ok := firingOf(tc.schedule, tc.run)
		assert.Equal(t, tc.ok, ok, tc.run)
		assert.Equal(t, tc.want, got, tc.run)
	}
}

func TestPlanInterval_DeadlineCountsTheIntervalsMissed(t *testing.T) {
	due := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	secs := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		name     string
		interval time.Duration
		now      time.Time
		deadline *int64
		want     cronPlan
	}{
		{name: "no deadline: the batch starts however late", interval: time.Minute, now: due.Add(time.Hour), want: cronPlan{Due: due}},
		{name: "within the deadline: starts", interval: time.Minute, now: due.Add(30 * time.Second), deadline: secs(30), want: cronPlan{Due: due}},
		{name: "past it, the latest interval within it: that one starts, the others are missed",
			interval: time.Minute, now: due.Add(10*time.Minute + 20*time.Second), deadline: secs(30),
			want: cronPlan{Due: due.Add(10 * time.Minute), Missed: 10}},
		{name: "past it, the latest interval too: none starts, all missed",
			interval: time.Minute, now: due.Add(10*time.Minute + 40*time.Second), deadline: secs(30),
			want: cronPlan{Due: due.Add(10 * time.Minute), Missed: 11, Late: true}},
		{name: "deadline 0, a second late: missed", interval: time.Hour, now: due.Add(time.Second), deadline: secs(0),
			want: cronPlan{Due: due, Missed: 1, Late: true}},
		{name: "a year at 1s is computed, not walked", interval: time.Second, now: due.Add(365 * 24 * time.Hour), deadline: secs(0),
			want: cronPlan{Due: due.Add(365 * 24 * time.Hour), Missed: 365 * 24 * 3600}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, planInterval(due, tc.interval, tc.now, tc.deadline))
		})
	}
}
