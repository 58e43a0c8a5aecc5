package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sprint-project/sprint/internal/pki"
)

// certsUsage heads `sprint certs -h`.
const certsUsage = `Usage: sprint certs --dir DIR --nodes n1,n2,n3 [--hosts 127.0.0.1,localhost,…]

Writes a cluster CA (ca.crt, ca.key) and, for each node, NAME.crt and
NAME.key: a certificate for both the Raft port's mutual TLS
(--raft-tls-cert, --raft-tls-key, --raft-tls-ca DIR/ca.crt) and the HTTPS
API (--tls-cert, --tls-key; clients trust DIR/ca.crt). Keys are written
0600. When DIR already holds ca.crt and ca.key, that CA signs the new node
certificates (add a node later with --nodes n4); --force replaces the CA
and existing node files instead.

Flags:
`

// runCerts is `sprint certs`; it returns the exit code.
func runCerts(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("sprint certs", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dir := fl.String("dir", "", "directory to write the files to (created 0700)")
	nodes := fl.String("nodes", "", "comma-separated node names, e.g. n1,n2,n3 (use the --node-id of each node)")
	hosts := fl.String("hosts", "127.0.0.1,::1,localhost", "comma-separated IP addresses and DNS names every node certificate is valid for (for HTTPS clients; Raft checks the CA and the node name instead)")
	validity := fl.Duration("validity", pki.DefaultNodeValidity, "how long node certificates are valid")
	force := fl.Bool("force", false, "replace an existing CA (and node files) in --dir")
	fl.Usage = func() {
		fmt.Fprint(fl.Output(), certsUsage)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "sprint certs:", err)
		return 1
	}
	if fl.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q", fl.Arg(0)))
	}
	if *dir == "" {
		return fail(errors.New("--dir is required"))
	}
	names := splitList(*nodes)
	if len(names) == 0 {
		return fail(errors.New("--nodes is required: the node names, e.g. n1,n2,n3"))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if err := pki.ValidNodeName(n); err != nil {
			return fail(err)
		}
		if n == "ca" {
			return fail(errors.New(`node name "ca" would overwrite the CA files`))
		}
		if seen[n] {
			return fail(fmt.Errorf("node %q listed twice", n))
		}
		seen[n] = true
	}
	if *validity <= 0 {
		return fail(fmt.Errorf("--validity must be positive, not %v", *validity))
	}
	written, err := writeCerts(*dir, names, splitList(*hosts), *validity, *force, time.Now())
	for _, line := range written {
		fmt.Fprintln(stdout, line)
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// writeCerts writes or reuses the CA in dir and a certificate per node;
// it returns a line per action for the user.
func writeCerts(dir string, nodes, hosts []string, validity time.Duration, force bool, now time.Time) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	caCert, caKey := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	var out []string
	// Check everything before writing anything.
	caExists := exists(caKey)
	if !force {
		if !caExists && exists(caCert) {
			return nil, fmt.Errorf("%s exists without %s: move it away or pass --force to make a new CA", caCert, caKey)
		}
		for _, n := range nodes {
			for _, ext := range []string{".crt", ".key"} {
				if p := filepath.Join(dir, n+ext); exists(p) {
					return nil, fmt.Errorf("%s exists: pass --force to replace it", p)
				}
			}
		}
	}
	var ca *pki.CA
	var err error
	if caExists && !force {
		if ca, err = pki.LoadCA(caCert, caKey); err != nil {
			return nil, err
		}
		out = append(out, "using the existing CA "+caCert)
	} else {
		if ca, err = pki.NewCA("sprint cluster CA", now, pki.DefaultCAValidity); err != nil {
			return nil, err
		}
		if err := writeFile(caKey, ca.KeyPEM, 0o600); err != nil {
			return out, err
		}
		if err := writeFile(caCert, ca.CertPEM, 0o644); err != nil {
			return out, err
		}
		out = append(out, "wrote "+caCert+" and "+caKey+" (keep the key offline once every node has its certificate)")
	}
	for _, n := range nodes {
		certPEM, keyPEM, err := ca.Issue(pki.NodeLeaf(n, hosts, now, validity))
		if err != nil {
			return out, err
		}
		crt, key := filepath.Join(dir, n+".crt"), filepath.Join(dir, n+".key")
		if err := writeFile(key, keyPEM, 0o600); err != nil {
			return out, err
		}
		if err := writeFile(crt, certPEM, 0o644); err != nil {
			return out, err
		}
		out = append(out, fmt.Sprintf("wrote %s and %s (node %s, hosts %s, valid until %s)",
			crt, key, n, strings.Join(hosts, ","), now.Add(validity).UTC().Format(time.DateOnly)))
	}
	return out, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// writeFile replaces path atomically with data at mode: a temporary file
// created with mode in the same directory, synced, then renamed.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".certs-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
