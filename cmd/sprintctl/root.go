package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
	"github.com/sprint-project/sprint/internal/buildinfo"
)

// version is the client's version, set at link time with
// -ldflags "-X main.version=v1.2.3"; otherwise taken from the build info.
var version = ""

func clientVersion() string { return buildinfo.Version(version) }

// app is one sprintctl invocation: its streams, environment and clock,
// injected so tests run it in-process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time

	server, token string // from flags or the environment
	caFile        string
}

// exitError carries a specific exit code with or without a message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// errAlreadyReported ends a command whose errors were printed as they
// happened (apply and delete of several objects), with exit code 1.
var errAlreadyReported = &exitError{code: 1}

func (a *app) execute(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	}
	fmt.Fprintln(a.stderr, "error: "+errorLine(err))
	return code
}

// errorLine renders an error as one line: the server's Status message, or
// the error with its newlines folded. An admission policy refusal is the
// exception: a line naming the object, then one indented line per cause,
// each with its field and the server flag that would allow it.
func errorLine(err error) string {
	var st *apis.Status
	if errors.As(err, &st) {
		if lines := forbiddenLines(st); lines != "" {
			return lines
		}
		msg := st.Message
		if st.Code == http.StatusUnauthorized {
			msg += " (set --token or SPRINT_TOKEN)"
		}
		if st.Code == http.StatusNotFound && client.IsUnexpectedAnswer(err) {
			msg += " (is --server the sprint API's base URL?)"
		}
		return strings.Join(strings.Fields(msg), " ")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out: " + strings.Join(strings.Fields(err.Error()), " ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// forbiddenLines renders a 403 with causes; "" for any other Status.
func forbiddenLines(st *apis.Status) string {
	if st.Code != http.StatusForbidden || st.Reason != apis.ReasonForbidden || st.Details == nil || len(st.Details.Causes) == 0 {
		return ""
	}
	what := st.Details.Kind
	if st.Details.Name != "" {
		what = fmt.Sprintf("%s %q", st.Details.Kind, st.Details.Name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s is forbidden by the admission policy:", strings.Join(strings.Fields(what), " "))
	for _, c := range st.Details.Causes {
		line := strings.Join(strings.Fields(c.Message), " ")
		if c.Field != "" {
			line = c.Field + ": " + line
		}
		b.WriteString("\n  " + line)
	}
	return b.String()
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "sprintctl",
		Short: "sprintctl controls sprint, the Run controller for Apache Mesos",
		Long: `sprintctl controls sprint, which runs one-off tasks ("Runs") on Apache Mesos.

Server: --server or SPRINT_SERVER (default ` + client.DefaultServer + `).
Token:  --token or SPRINT_TOKEN.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().StringVar(&a.server, "server", "", "sprint server URL (env SPRINT_SERVER; default "+client.DefaultServer+")")
	root.PersistentFlags().StringVar(&a.token, "token", "", "bearer token (env SPRINT_TOKEN)")
	root.PersistentFlags().StringVar(&a.caFile, "certificate-authority", "", "PEM file of the CA that signed an https server's certificate (env SPRINT_CA_FILE)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	root.AddCommand(
		a.applyCmd(), a.getCmd(), a.describeCmd(), a.deleteCmd(), a.killCmd(),
		a.logsCmd(), a.waitCmd(), a.clusterCmd(), a.versionCmd(), a.completionCmd(root),
		a.treeCmd(),
		a.suspendCmd(true), a.suspendCmd(false), a.createCmd(),
	)
	return root
}

// client builds the API client from flags, then the environment.
func (a *app) client() (*client.Client, error) {
	server := a.server
	if server == "" {
		server = a.getenv("SPRINT_SERVER")
	}
	token := a.token
	if token == "" {
		token = a.getenv("SPRINT_TOKEN")
	}
	opts := []client.Option{client.WithUserAgent("sprintctl/" + clientVersion())}
	caFile := a.caFile
	if caFile == "" {
		caFile = a.getenv("SPRINT_CA_FILE")
	}
	if caFile != "" {
		tlsCfg, err := client.LoadCA(caFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLSConfig(tlsCfg))
	}
	return client.New(server, token, opts...)
}

// runsResource checks the resource word of "get runs", "delete run" etc.
func runsResource(word string) error {
	if runView.is(word) {
		return nil
	}
	return fmt.Errorf("unknown resource type %q: sprintctl knows runs, schedules and notifiers", word)
}
