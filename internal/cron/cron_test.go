package cron_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/internal/cron"
)

func TestParse_RefusesWithAReason(t *testing.T) {
	for _, tc := range []struct{ expr, tz, want string }{
		{"", "", "must not be empty"},
		{"* * * *", "", "invalid cron expression"},
		{"* * * * * *", "", "invalid cron expression"},
		{"61 * * * *", "", "invalid cron expression"},
		{"@every 10ms", "", "at least 1s"},
		{"@every soon", "", "invalid cron expression"},
		{"0 0 30 2 *", "", "never fires"},
		{"CRON_TZ=Europe/Berlin 0 1 * * *", "", "use spec.timeZone"},
		{"0 1 * * *", "Mars/Olympus", `unknown time zone "Mars/Olympus"`},
		{"0 1 * * *", "Local", "IANA"},
		{string(make([]byte, 300)), "", "no more than 256"},
	} {
		_, err := cron.Parse(tc.expr, tc.tz)
		require.Error(t, err, "%q in %q", tc.expr, tc.tz)
		assert.Contains(t, err.Error(), tc.want, "%q in %q", tc.expr, tc.tz)
	}
}

func TestNext_InATimeZoneAcrossDaylightSavingChanges(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		require.NoError(t, err)
		return v
	}
	for _, tc := range []struct {
		name, expr string
		after      time.Time
		want       time.Time
	}{
		{"daily at 02:30 on the spring-forward night: 02:30 does not exist, the next day's fires", "30 2 * * *", at("2026-03-28 03:00"), at("2026-03-30 02:30")},
		{"daily at 02:30 on the fall-back night fires at the first 02:30 (CEST)", "30 2 * * *", at("2026-10-25 00:00"), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)},
		{"… and not again at the second 02:30 (CET)", "30 2 * * *", time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), at("2026-10-26 02:30")},
		{"hourly across spring-forward skips the missing hour", "0 * * * *", at("2026-03-29 01:30"), at("2026-03-29 03:00")},
		{"@daily is local midnight", "@daily", at("2026-07-01 12:00"), at("2026-07-02 00:00")},
		{"weekday 9:00", "0 9 * * 1-5", at("2026-12-04 10:00"), at("2026-12-07 09:00")}, // Friday → Monday
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := cron.Parse(tc.expr, "Europe/Berlin")
			require.NoError(t, err)
			got := s.Next(tc.after)
			assert.True(t, got.Equal(tc.want), "got %s, want %s", got, tc.want)
		})
	}
}

func TestNext_UTCAndEvery(t *testing.T) {
	s, err := cron.Parse("*/15 * * * *", "")
	require.NoError(t, err)
	base := time.Date(2026, 12, 4, 16, 7, 30, 0, time.UTC)
	assert.Equal(t, time.Date(2026, 12, 4, 16, 15, 0, 0, time.UTC), s.Next(base))
	assert.Zero(t, s.Every())

	e, err := cron.Parse("@every 90s", "Europe/Berlin")
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, e.Every())
	assert.True(t, e.Next(base).Equal(base.Add(90*time.Second)))
}
