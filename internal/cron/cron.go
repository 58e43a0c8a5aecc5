// Package cron parses a Schedule's spec.schedule and spec.timeZone and
// computes its firing times. Parsing is robfig/cron/v3's (five fields and
// the @hourly, @daily, @weekly, @monthly, @yearly, @every descriptors); this
// package fixes the dialect sprint accepts, so that validation at apply time
// and the controller's firing agree on every expression.
package cron

import (
	"errors"
	"fmt"
	"strings"
	"time"

	robfig "github.com/robfig/cron/v3"

	// Time zones come from the binary, not the host: every node computes
	// the same firing times whatever zoneinfo its host has, or none.
	_ "time/tzdata"
)

// MaxLen bounds an expression's length: parsing cost stays small.
const MaxLen = 256

// minEvery is the shortest @every period: a Schedule firing more often
// than this would turn the store into a log of Runs.
const minEvery = time.Second

var parser = robfig.NewParser(robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)

// Schedule is a parsed expression in its time zone.
type Schedule struct {
	expr  string
	loc   *time.Location
	inner robfig.Schedule
	every time.Duration // @every period, 0 for calendar expressions
}

// Parse parses expr in the IANA time zone tz ("" is UTC). Its errors say
// what is wrong in one line, fit for a field error.
func Parse(expr, tz string) (*Schedule, error) {
	if len(expr) > MaxLen {
		return nil, fmt.Errorf("must be no more than %d characters", MaxLen)
	}
	trimmed := strings.TrimSpace(expr)
	if trimmed == "" {
		return nil, errors.New("must not be empty")
	}
	if strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ=") {
		return nil, errors.New("a time zone prefix is not allowed: use spec.timeZone")
	}
	loc, err := LoadLocation(tz)
	if err != nil {
		return nil, err
	}
	if rest, ok := strings.CutPrefix(trimmed, "@every "); ok {
		// robfig rounds a period under a second up to one; refuse it instead.
		if d, err := time.ParseDuration(strings.TrimSpace(rest)); err == nil && d < minEvery {
			return nil, fmt.Errorf("@every period must be at least %s", minEvery)
		}
	}
	inner, err := parser.Parse(trimmed)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression: %w", err)
	}
	s := &Schedule{expr: trimmed, loc: loc, inner: inner}
	if c, ok := inner.(robfig.ConstantDelaySchedule); ok {
		if c.Delay < minEvery {
			return nil, fmt.Errorf("@every period must be at least %s", minEvery)
		}
		s.every = c.Delay
	}
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		// robfig returns the zero time for dates that never occur (30 Feb).
		return nil, errors.New("invalid cron expression: it never fires")
	}
	return s, nil
}

// LoadLocation loads an IANA zone; "" is UTC. Local is refused: it would
// differ between nodes.
func LoadLocation(tz string) (*time.Location, error) {
	if tz == "" || tz == "UTC" {
		return time.UTC, nil
	}
	if tz == "Local" {
		return nil, errors.New(`"Local" is not allowed: name an IANA time zone such as Europe/Berlin`)
	}
	if len(tz) > 64 {
		return nil, errors.New("must be no more than 64 characters")
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", tz)
	}
	return loc, nil
}

// Next returns the first firing time strictly after t, in the Schedule's
// time zone, or the zero time if there is none within five years. An
// @every schedule fires every period after t, truncated to the second.
//
// A wall-clock time that occurs twice because clocks go back (02:30 on the
// night summer time ends in Europe) fires once, at its first occurrence, as
// cron does for fixed times: a nightly job must not run twice. A time that
// does not occur because clocks go forward does not fire that day.
func (s *Schedule) Next(t time.Time) time.Time {
	t = t.In(s.loc)
	next := s.inner.Next(t)
	if s.every == 0 && !next.IsZero() && sameWallMinute(next, t) {
		next = s.inner.Next(next)
	}
	return next
}

func sameWallMinute(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute()
}

// Every returns the period of an @every schedule, or 0.
func (s *Schedule) Every() time.Duration { return s.every }

// Location returns the Schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// String returns the expression as parsed.
func (s *Schedule) String() string { return s.expr }
