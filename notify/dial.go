package notify

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/sprint-project/sprint/apis"
)

// ErrDestinationDenied is wrapped by the error of a connection refused by
// the destination filter (Config.DenyCIDRs): a permanent failure of the
// notification.
var ErrDestinationDenied = errors.New("destination denied")

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
	if p, denied := apis.DeniedBy(f.deny, a); denied {
		return &deniedError{msg: fmt.Sprintf("destination %s is denied by %s (%s)", a.Unmap().WithZone(""), apis.FlagNotifierDenyCIDRs, p)}
	}
	return nil
}
