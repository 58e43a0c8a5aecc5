package raftstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sprint-project/sprint/internal/pki"
)

// PeerTLS is the mutual TLS of the Raft port. Every connection, in either
// direction, runs TLS 1.3 and both sides present a certificate that
// chains to the cluster CA and carries a node URI SAN
// (sprint://node/<name>, see internal/pki). Host names and IP addresses
// are not checked: see DESIGN.md, "Raft over mutual TLS".
type PeerTLS struct {
	cert     tls.Certificate
	pool     *x509.CertPool
	name     string    // this node's name in its certificate
	notAfter time.Time // when this node's certificate expires
}

// LoadPeerTLS reads this node's certificate and key and the cluster CA
// (all PEM) and checks that the certificate is a node certificate of that
// CA, valid now.
func LoadPeerTLS(certFile, keyFile, caFile string) (*PeerTLS, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("raft TLS certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("raft TLS key: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("raft TLS CA: %w", err)
	}
	return NewPeerTLS(certPEM, keyPEM, caPEM, time.Now())
}

// NewPeerTLS is LoadPeerTLS from PEM data, checking validity at now.
func NewPeerTLS(certPEM, keyPEM, caPEM []byte, now time.Time) (*PeerTLS, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("raft TLS certificate and key: %w", err)
	}
	cas, err := pki.ParseCerts(caPEM)
	if err != nil {
		return nil, fmt.Errorf("raft TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	p := &PeerTLS{cert: cert, pool: pool}
	// Refuse at start what every peer would refuse at its first handshake.
	chain := make([]*x509.Certificate, 0, len(cert.Certificate))
	for _, der := range cert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("raft TLS certificate: %w", err)
		}
		chain = append(chain, c)
	}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if p.name, err = p.verifyPeer(chain, usage, now); err != nil {
			return nil, fmt.Errorf("raft TLS certificate: %w", err)
		}
	}
	p.notAfter = chain[0].NotAfter
	return p, nil
}

// NodeName is the node name in this node's certificate.
func (p *PeerTLS) NodeName() string { return p.name }

// NotAfter is when this node's certificate expires: peers refuse it from
// then on, and certificates are read only at start.
func (p *PeerTLS) NotAfter() time.Time { return p.notAfter }

// errNotNode is a chain-valid certificate without the node URI SAN.
var errNotNode = errors.New("certificate has no node URI SAN " + pki.NodeURIScheme + "://" + pki.NodeURIHost + "/<name>: it is not a cluster node certificate")

// verifyPeer checks that chain[0] chains to the cluster CA for usage, is
// valid at now and is a node certificate; it returns the node name.
func (p *PeerTLS) verifyPeer(chain []*x509.Certificate, usage x509.ExtKeyUsage, now time.Time) (string, error) {
	if len(chain) == 0 {
		return "", errors.New("no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{
		Roots: p.pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage},
	}); err != nil {
		return "", fmt.Errorf("not a certificate of the cluster CA: %w", err)
	}
	name, ok := pki.NodeName(chain[0])
	if !ok {
		return "", errNotNode
	}
	return name, nil
}

// serverConfig is the accepting side: TLS 1.3, a client certificate
// required and verified against the cluster CA (crypto/tls checks the
// chain and the client-auth usage), then the node URI.
func (p *PeerTLS) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{p.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no client certificate")
			}
			if _, ok := pki.NodeName(cs.PeerCertificates[0]); !ok {
				return errNotNode
			}
			return nil
		},
	}
}

// clientConfig is the dialing side. Peers dial each other by the Raft
// address in the configuration (usually an IP), which proves nothing the
// CA does not, so instead of crypto/tls's host name check the chain, the
// server-auth usage and the node URI are verified in VerifyConnection.
func (p *PeerTLS) clientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{p.cert},
		RootCAs:            p.pool,
		InsecureSkipVerify: true, // replaced by VerifyConnection below, which checks the chain
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := p.verifyPeer(cs.PeerCertificates, x509.ExtKeyUsageServerAuth, time.Now())
			return err
		},
	}
}

// dial opens an authenticated connection to a peer within timeout.
func (p *PeerTLS) dial(ctx context.Context, addr string, timeout time.Duration) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: p.clientConfig()}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}

// tlsStreamLayer is a raft.StreamLayer over mutual TLS. Its accept loop
// hands raft only connections whose handshake succeeded: a peer without a
// cluster certificate is closed before raft reads a byte of it.
type tlsStreamLayer struct {
	tls       *PeerTLS
	ln        net.Listener
	advertise net.Addr
	timeout   time.Duration // handshake deadline, each way
	logger    *slog.Logger
	failures  prometheus.Counter

	conns  chan net.Conn // authenticated connections for Accept; nobody closes it
	ctx    context.Context
	cancel context.CancelFunc // ends the accept loop and pending handshakes
	wg     sync.WaitGroup
	once   sync.Once
}

var _ raft.StreamLayer = (*tlsStreamLayer)(nil)

func newTLSStreamLayer(ln net.Listener, advertise net.Addr, p *PeerTLS, timeout time.Duration, logger *slog.Logger, failures prometheus.Counter) *tlsStreamLayer {
	ctx, cancel := context.WithCancel(context.Background())
	l := &tlsStreamLayer{
		tls: p, ln: ln, advertise: advertise, timeout: timeout, logger: logger, failures: failures,
		conns: make(chan net.Conn), ctx: ctx, cancel: cancel,
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.acceptLoop()
	}()
	return l
}

// acceptLoop accepts TCP connections and shakes hands with each in its own
// goroutine, so a slow or silent client delays nobody else; a handshake
// gets timeout to finish.
func (l *tlsStreamLayer) acceptLoop() {
	cfg := l.tls.serverConfig()
	delay := time.Duration(0)
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			// Out of file descriptors and the like: back off as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.logger.Warn("raft accept failed; retrying", "err", err, "delay", delay)
			select {
			case <-time.After(delay):
				continue
			case <-l.ctx.Done():
				return
			}
		}
		delay = 0
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.handshake(tls.Server(c, cfg))
		}()
	}
}

func (l *tlsStreamLayer) handshake(c *tls.Conn) {
	ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
	err := c.HandshakeContext(ctx)
	cancel()
	if err != nil {
		_ = c.Close()
		l.failures.Inc()
		// A port probe or a connection closed before its ClientHello is
		// routine; a refused certificate is worth a warning.
		if errors.Is(err, io.EOF) {
			l.logger.Debug("raft connection closed before TLS handshake", "remote", c.RemoteAddr().String())
		} else if l.ctx.Err() == nil {
			l.logger.Warn("raft peer refused: TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		}
		return
	}
	select {
	case l.conns <- c:
	case <-l.ctx.Done():
		_ = c.Close()
	}
}

// Accept returns the next authenticated connection.
func (l *tlsStreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close stops accepting and waits for pending handshakes to end.
func (l *tlsStreamLayer) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.ln.Close()
		l.wg.Wait()
	})
	return err
}

// Addr is the advertised address, else the bound one.
func (l *tlsStreamLayer) Addr() net.Addr {
	if l.advertise != nil {
		return l.advertise
	}
	return l.ln.Addr()
}

// Dial connects to a peer and completes the handshake within timeout.
func (l *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := l.tls.dial(l.ctx, string(address), timeout)
	if err != nil {
		return nil, fmt.Errorf("raft TLS dial %s: %w", address, err)
	}
	return c, nil
}
