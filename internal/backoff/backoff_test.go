package backoff_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sprint-project/sprint/internal/backoff"
)

func TestPolicy_DelayDoublesToMax(t *testing.T) {
	t.Parallel()
	p := backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{4, time.Second},
		{62, time.Second},
		{1 << 20, time.Second}, // no overflow into a negative or tiny delay
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, p.Delay(tc.n), "retry %d", tc.n)
	}
	assert.Equal(t, time.Minute, backoff.Policy{Initial: 0, Max: time.Minute}.Delay(0), "no initial delay: the maximum")
	huge := backoff.Policy{Initial: time.Hour, Max: time.Duration(1<<63 - 1)}
	for n := range 70 {
		assert.Positive(t, huge.Delay(n), "retry %d", n)
	}
}

func TestPolicy_JitterStaysInItsFraction(t *testing.T) {
	t.Parallel()
	p := backoff.Policy{Initial: time.Second, Max: 8 * time.Second, Jitter: 0.5}
	seen := map[time.Duration]bool{}
	for range 1000 {
		for n, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
			got := p.Delay(n)
			assert.GreaterOrEqual(t, got, d/2, "retry %d", n)
			assert.LessOrEqual(t, got, d, "retry %d", n)
			if n == 0 {
				seen[got] = true
			}
		}
	}
	assert.Greater(t, len(seen), 100, "delays are spread, not one value")
	full := backoff.Policy{Initial: time.Second, Max: time.Second, Jitter: 7}
	for range 100 {
		assert.LessOrEqual(t, full.Delay(0), time.Second, "jitter is capped at the whole delay")
	}
}

func TestRetry_NextAndReset(t *testing.T) {
	t.Parallel()
	r := backoff.Retry{Policy: backoff.Policy{Initial: time.Second, Max: 3 * time.Second}}
	assert.Equal(t, time.Second, r.Next())
	assert.Equal(t, 2*time.Second, r.Next())
	assert.Equal(t, 3*time.Second, r.Next())
	assert.Equal(t, 3, r.Retries())
	r.Reset()
	assert.Equal(t, 0, r.Retries())
	assert.Equal(t, time.Second, r.Next())
}
