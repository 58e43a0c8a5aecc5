package server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/labstack/echo/v4"
)

// ErrInsecureListen is returned by CheckListenSecurity for a non-loopback
// address without tokens or --insecure.
var ErrInsecureListen = errors.New("refusing to listen on a non-loopback address without --token-file (or --insecure)")

// CheckListenSecurity enforces DESIGN.md §4: loopback addresses may serve
// without authentication; any other address (including an empty host, which
// means every interface) needs bearer tokens or an explicit insecure flag.
// cmd/sprint calls it before listening.
func CheckListenSecurity(addr string, hasTokens, insecure bool) error {
	if hasTokens || insecure {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("listen %s: %w", addr, ErrInsecureListen)
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoadTokens reads bearer tokens from a file, one per line; blank lines and
// lines starting with # are skipped. It fails on a file with no token, so a
// misconfigured --token-file never silently disables authentication.
func LoadTokens(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tokens = append(tokens, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("token file %s: no tokens", path)
	}
	return tokens, nil
}

// tokenSet holds SHA-256 digests of the accepted tokens: comparing
// fixed-length digests in constant time leaks neither a token's bytes nor
// its length.
type tokenSet struct {
	digests [][sha256.Size]byte
}

func newTokenSet(tokens []string) *tokenSet {
	ts := &tokenSet{}
	for _, t := range tokens {
		ts.digests = append(ts.digests, sha256.Sum256([]byte(t)))
	}
	return ts
}

func (ts *tokenSet) empty() bool { return len(ts.digests) == 0 }

// valid compares against every token without stopping at a match, so the
// time taken does not tell which token matched.
func (ts *tokenSet) valid(token string) bool {
	d := sha256.Sum256([]byte(token))
	ok := 0
	for i := range ts.digests {
		ok |= subtle.ConstantTimeCompare(d[:], ts.digests[i][:])
	}
	return ok == 1
}

// authenticate requires "Authorization: Bearer <token>" when tokens are
// configured, except on openPaths, then runs next. The token is never
// logged.
func (s *Server) authenticate(c echo.Context, next echo.HandlerFunc) error {
	if s.tokens.empty() || isOpenPath(c) {
		return next(c)
	}
	auth := c.Request().Header.Get("Authorization")
	scheme, token, found := strings.Cut(auth, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || !s.tokens.valid(strings.TrimSpace(token)) {
		s.metrics.authFailures.Inc()
		return statusError(http.StatusUnauthorized, "Unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)")
	}
	return next(c)
}
