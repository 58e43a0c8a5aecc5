package controller

import (
	"strconv"
	"strings"
	"time"

	"github.com/sprint-project/sprint/internal/cron"
)

// The firing times of a Schedule, computed from what the store holds
// (status.lastScheduleTime, else the creation time) and the time now —
// never from "now" alone — so that every leader, the one before a failover
// and the one after, arrives at the same firing.

// maxCountedFirings bounds the loop that counts the missed firings of a
// calendar schedule (a year of "* * * * *" is 525,600 of them); beyond it
// the count is extrapolated from the rate of the firings counted.
const maxCountedFirings = 1000

// cronPlan is what a cron Schedule should do at now.
type cronPlan struct {
	// Due is the firing to commit: the most recent one at or before now;
	// zero when none is due (then Next says when one is).
	Due time.Time
	// Missed counts the firings at or before now that are not fired:
	// every one but Due, or all of them when Late.
	Missed int64
	// Late: Due is more than startingDeadlineSeconds old; it is committed
	// without Runs (and counted in Missed).
	Late bool
	// Next is the first firing after now, or after Due when one is due
	// (zero: the expression never fires again).
	Next time.Time
}

// planCron computes a cron Schedule's plan at now from base, the last
// committed firing (status.lastScheduleTime) or, before the first, the
// Schedule's creation time. Like Kubernetes CronJob it fires at most one
// missed firing, the most recent, and only if it is no more than deadline
// old (nil: no deadline); every other missed firing is counted.
func planCron(s *cron.Schedule, base, now time.Time, deadline *int64) cronPlan {
	first := s.Next(base)
	if first.IsZero() || first.After(now) {
		return cronPlan{Next: first}
	}
	last, count := lastFiring(s, first, now)
	p := cronPlan{Due: last, Missed: count - 1, Next: s.Next(last)}
	if deadline != nil && now.Sub(last) > time.Duration(*deadline)*time.Second {
		p.Late, p.Missed = true, count
	}
	return p
}

// planInterval is planCron for interval mode. due is when the next batch
// became due (interval after the previous batch finished, at creation for
// the first). Without a deadline, or within it, that batch fires, however
// late. A batch more than deadline late (the leader was down, the Schedule
// suspended) is not started late: each interval that passed since is a
// firing it missed, as "@every interval" from due would count them; the
// most recent fires if it is within the deadline (the others counted in
// Missed), else none does (Late, all counted).
func planInterval(due time.Time, interval time.Duration, now time.Time, deadline *int64) cronPlan {
	if deadline == nil || interval <= 0 {
		return cronPlan{Due: due}
	}
	limit := time.Duration(*deadline) * time.Second
	if now.Sub(due) <= limit {
		return cronPlan{Due: due}
	}
	n := int64(now.Sub(due) / interval)
	last := due.Add(time.Duration(n) * interval)
	p := cronPlan{Due: last, Missed: n}
	if now.Sub(last) > limit {
		p.Late, p.Missed = true, n+1
	}
	return p
}

// lastFiring returns the last firing at or before now and how many there
// are from first (a firing at or before now) to it. @every schedules are
// computed arithmetically; calendar ones are counted up to
// maxCountedFirings and extrapolated beyond, so that a long downtime of a
// frequent schedule costs a bounded loop.
func lastFiring(s *cron.Schedule, first, now time.Time) (time.Time, int64) {
	if every := s.Every(); every > 0 {
		n := int64(now.Sub(first) / every)
		return first.Add(time.Duration(n) * every), n + 1
	}
	t, count := first, int64(1)
	for count < maxCountedFirings {
		n := s.Next(t)
		if n.IsZero() || n.After(now) {
			return t, count
		}
		t, count = n, count+1
	}
	// Too many to count: find the last firing from the end, and
	// extrapolate the number in between from the rate counted so far.
	last := lastBefore(s, t, now)
	if span := t.Sub(first); span > 0 && last.After(t) {
		rate := float64(count-1) / float64(span)
		count += int64(rate * float64(last.Sub(t)))
	}
	return last, count
}

// lastBefore finds the last firing at or before now, knowing that known
// is one: it looks back from now over a window that doubles until it holds
// a firing, then walks forward through that window.
func lastBefore(s *cron.Schedule, known, now time.Time) time.Time {
	t := known
	for w := time.Minute; ; w *= 2 {
		from := now.Add(-w)
		if !from.After(known) {
			break
		}
		if n := s.Next(from); !n.IsZero() && !n.After(now) {
			t = n
			break
		}
	}
	// The window's first half holds no firing (the previous, half as
	// long, held none), so this walk is short; it is bounded all the same.
	for range maxCountedFirings {
		n := s.Next(t)
		if n.IsZero() || n.After(now) {
			break
		}
		t = n
	}
	return t
}

// firingName is the name of the i-th Run of a Schedule's firing at t:
// <schedule>-<Unix seconds>-<i>.
func firingName(schedule string, t time.Time, i int) string {
	return schedule + "-" + strconv.FormatInt(t.Unix(), 10) + "-" + strconv.Itoa(i)
}

// firingOf parses the firing time (Unix seconds) out of the name of a Run
// of schedule, or reports false for a name not of that form (a Run created
// outside the schedule).
func firingOf(schedule, run string) (int64, bool) {
	rest, ok := strings.CutPrefix(run, schedule+"-")
	if !ok {
		return 0, false
	}
	secs, idx, ok := strings.Cut(rest, "-")
	if !ok || !allDigits(secs) || !allDigits(idx) {
		return 0, false
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	return n, err == nil
}

func allDigits(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ceilSecond rounds t up to a whole second: firing times name Runs by the
// second, and an interval firing must not come before it is due.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}
