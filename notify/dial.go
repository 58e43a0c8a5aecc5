package notify

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/sprint-project/sprint/apis"
)

// DefaultDenyCIDRs is --notifier-deny-cidrs's default: the addresses a
// webhook or SMTP server of a Notifier may not have. Loopback and
// "this host" (0.0.0.0/8, which Linux connects to the host itself) reach
// services on the leader; link-local holds the cloud metadata service
// (169.254.169.254) and IPv6 neighbours; multicast is never a server.
const DefaultDenyCIDRs = "127.0.0.0/8,::1/128,0.0.0.0/8,::/128,169.254.0.0/16,fe80::/10,224.0.0.0/4,ff00::/8"

// ErrDestinationDenied is wrapped by the error of a connection refused by
// the destination filter (Config.DenyCIDRs): a permanent failure of the
// notification.
var ErrDestinationDenied = errors.New("destination denied")

// ParseDenyCIDRs parses --notifier-deny-cidrs: comma-separated CIDR
// prefixes (192.168.0.0/16, fd00::/8) or single addresses. "" denies
// nothing and gives a non-nil empty list (Config.DenyCIDRs's nil is the
// default list).
func ParseDenyCIDRs(s string) ([]netip.Prefix, error) {
	out := []netip.Prefix{}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(entry, "/") {
			p, err = netip.ParsePrefix(entry)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(entry); err == nil && a.Zone() != "" {
				return nil, fmt.Errorf("%q has a zone: give the address alone", entry)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR prefix (like 10.0.0.0/8) or an IP address", entry)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// destinationFilter refuses connections to denied addresses. It runs as a
// net.Dialer's Control function, after name resolution and before the
// connect: it judges the address the socket is about to connect to, so a
// name that resolves (or rebinds) to a denied address is refused as the
// address itself is.
type destinationFilter struct{ deny []netip.Prefix }

// control is a net.Dialer Control function.
func (f destinationFilter) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &deniedError{msg: fmt.Sprintf("destination %q is not an IP address and port; refused", address)}
	}
	return f.check(ap.Addr())
}

// deniedError is a refusal of the filter; it is ErrDestinationDenied for
// errors.Is.
type deniedError struct{ msg string }

func (e *deniedError) Error() string        { return e.msg }
func (e *deniedError) Is(target error) bool { return target == ErrDestinationDenied }

// check refuses a when a deny prefix holds it. An IPv4-mapped IPv6 address
// (::ffff:127.0.0.1) is judged as the IPv4 address it maps.
func (f destinationFilter) check(a netip.Addr) error {
	a = a.Unmap().WithZone("")
	for _, p := range f.deny {
		if p.Contains(a) {
			return &deniedError{msg: fmt.Sprintf("destination %s is denied by %s (%s)", a, apis.FlagNotifierDenyCIDRs, p)}
		}
	}
	return nil
}
