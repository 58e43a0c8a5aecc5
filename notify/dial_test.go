package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// allowAll is a deny list that denies nothing (--notifier-deny-cidrs=""),
// for tests whose receivers listen on loopback.
var allowAll = []netip.Prefix{}

func TestDestinationFilter_Default(t *testing.T) {
	def, err := apis.ParseNotifierDenyCIDRs(apis.DefaultNotifierDenyCIDRs)
	require.NoError(t, err)
	f := destinationFilter{deny: def}
	tests := []struct {
		addr   string
		denied string // the prefix named; "" allowed
	}{
		{"127.0.0.1:80", "127.0.0.0/8"},
		{"127.9.9.9:80", "127.0.0.0/8"},
		{"[::1]:80", "::1/128"},
		{"[::ffff:127.0.0.1]:80", "127.0.0.0/8"},
		{"0.0.0.0:80", "0.0.0.0/8"},
		{"[::]:80", "::/128"},
		{"169.254.169.254:80", "169.254.0.0/16"},
		{"[fe80::1%eth0]:80", "fe80::/10"},
		{"224.0.0.251:5353", "224.0.0.0/4"},
		{"[ff02::1]:80", "ff00::/8"},
		{"203.0.113.10:443", ""},
		{"10.1.2.3:443", ""},
		{"[2001:db8::1]:443", ""},
	}
	for _, tc := range tests {
		err := f.control("tcp", tc.addr, nil)
		if tc.denied == "" {
			assert.NoError(t, err, tc.addr)
			continue
		}
		require.Error(t, err, tc.addr)
		assert.True(t, errors.Is(err, ErrDestinationDenied), tc.addr)
		assert.Contains(t, err.Error(), "is denied by --notifier-deny-cidrs ("+tc.denied+")", tc.addr)
	}
	assert.ErrorIs(t, f.control("tcp", "not an address", nil), ErrDestinationDenied)
}

// Webhooks through the default transport: the filter judges the address
// each connection is about to be made to, after name resolution, so a
// literal address, a name that resolves to a denied one and an IPv4-mapped
// form are all refused before connecting, as a permanent failure; what the
// list does not hold is delivered.
func TestWebhook_DestinationFilter(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	at := func(host string) string { return "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/hook" }
	onlyMetadata, err := apis.ParseNotifierDenyCIDRs("169.254.0.0/16")
	require.NoError(t, err)
	tests := []struct {
		name string
		url  string
		deny []netip.Prefix
		err  string // "" delivered
	}{
		{"literal loopback, default list", at("127.0.0.1"), nil, "destination 127.0.0.1 is denied by --notifier-deny-cidrs (127.0.0.0/8)"},
		{"name resolving to loopback", at("localhost"), nil, "is denied by --notifier-deny-cidrs"},
		{"IPv4-mapped loopback", at("::ffff:127.0.0.1"), nil, "destination 127.0.0.1 is denied"},
		{"this host", at("0.0.0.0"), nil, "destination 0.0.0.0 is denied"},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/", nil, "destination 169.254.169.254 is denied by --notifier-deny-cidrs (169.254.0.0/16)"},
		{"metadata still denied by a narrower list", "http://169.254.169.254/latest/meta-data/", onlyMetadata, "destination 169.254.169.254 is denied"},
		{"loopback allowed by a list without it", at("127.0.0.1"), onlyMetadata, ""},
		{"everything allowed by an empty list", at("localhost"), allowAll, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := requests.Load()
			store := newFakeStore()
			rec := store.add(webhookNotifier("hook", tc.url, apis.FormatJSON), apis.NotifyFailed, failedRun("extract"), time.Now())
			s := newTestService(t, store, Config{DenyCIDRs: tc.deny, Timeout: 5 * time.Second})
			err := s.attempt(context.Background(), &rec)
			if tc.err == "" {
				require.NoError(t, err)
				assert.Equal(t, before+1, requests.Load())
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			var perm *PermanentError
			assert.True(t, errors.As(err, &perm), "a denied destination is not retried: %v", err)
			assert.Equal(t, before, requests.Load(), "nothing reached the receiver")
		})
	}
}

// The SMTP dialer is filtered too: mail (and its credentials) to a
// loopback relay is refused unless the list allows it.
func TestEmail_DestinationFilter(t *testing.T) {
	addr, got := smtpServer(t)
	store := newFakeStore()
	rec := store.add(emailNotifier(addr, "oncall@example.com"), apis.NotifyFailed, failedRun("extract"), time.Now())

	s := newTestService(t, store, Config{Timeout: 5 * time.Second})
	err := s.attempt(context.Background(), &rec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "smtp "+addr+": dial tcp "+addr+": destination 127.0.0.1 is denied by --notifier-deny-cidrs (127.0.0.0/8)")
	var perm *PermanentError
	assert.True(t, errors.As(err, &perm))

	s = newTestService(t, store, Config{Timeout: 5 * time.Second, DenyCIDRs: allowAll})
	require.NoError(t, s.attempt(context.Background(), &rec))
	m := <-got
	assert.Equal(t, []string{"oncall@example.com"}, m.to)
	select {
	case extra := <-got:
		t.Fatalf("the refused attempt delivered: %+v", extra)
	default:
	}
}
