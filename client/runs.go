package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sprint-project/sprint/apis"
)

// ApplyResult tells what an apply did, as kubectl prints it.
type ApplyResult string

// Apply results; the server reports them in its Sprint-Apply-Result header.
const (
	Created    ApplyResult = "created"
	Configured ApplyResult = "configured"
	Unchanged  ApplyResult = "unchanged"
	// Replaced: apply --force deleted the Run and created it anew.
	Replaced ApplyResult = "replaced"
)

// ApplyOptions modify Apply.
type ApplyOptions struct {
	// DryRun validates and shows the result without storing it.
	DryRun bool
	// Force deletes and re-creates the Run when the change touches an
	// immutable field (waiting for the old one's task to be killed).
	Force bool
}

// Apply creates the Run or updates its mutable fields, or leaves it
// unchanged. A metadata.resourceVersion in run is a precondition. A Run
// with only metadata.generateName is created anew on every apply.
func (c *Client) Apply(ctx context.Context, run *apis.Run, opts ApplyOptions) (*apis.Run, ApplyResult, error) {
	name := run.Metadata.Name
	if name == "" {
		if run.Metadata.GenerateName == "" {
			return nil, "", errors.New("apply: the Run has neither metadata.name nor metadata.generateName")
		}
		// A generated name cannot match an existing Run: every apply
		// creates a new one, as kubectl create does.
		created, err := createObject(ctx, c, runKind, run, opts.DryRun)
		if err != nil {
			return nil, "", err
		}
		return created, Created, nil
	}
	out, result, err := putObject(ctx, c, runKind, run, opts.DryRun)
	if err == nil || !opts.Force || !IsInvalid(err) {
		return out, result, err
	}
	// An immutable change, perhaps: only an existing Run can have one.
	if _, gerr := c.Get(ctx, name); gerr != nil {
		return nil, "", err
	}
	fresh := *run
	fresh.Metadata.ResourceVersion = ""
	if opts.DryRun {
		created, cerr := createObject(ctx, c, runKind, &fresh, true)
		if cerr != nil {
			return nil, "", cerr
		}
		return created, Replaced, nil
	}
	if _, derr := c.Delete(ctx, name, DeleteOptions{Wait: true}); derr != nil && !IsNotFound(derr) {
		return nil, "", fmt.Errorf("apply --force: delete %s: %w", name, derr)
	}
	created, cerr := createObject(ctx, c, runKind, &fresh, false)
	if cerr != nil {
		return nil, "", fmt.Errorf("apply --force: re-create %s: %w", name, cerr)
	}
	return created, Replaced, nil
}

// deleteQuery is the query of a DELETE: a non-empty resourceVersion is a
// precondition.
func deleteQuery(resourceVersion string) url.Values {
	q := url.Values{}
	if resourceVersion != "" {
		q.Set("resourceVersion", resourceVersion)
	}
	return q
}

func dryRunQuery(dryRun bool) url.Values {
	q := url.Values{}
	if dryRun {
		q.Set("dryRun", "true")
	}
	return q
}

// Create creates a Run; it fails with a 409 Status when the name exists.
func (c *Client) Create(ctx context.Context, run *apis.Run) (*apis.Run, error) {
	return createObject(ctx, c, runKind, run, false)
}

// Get reads one Run.
func (c *Client) Get(ctx context.Context, name string) (*apis.Run, error) {
	return call[apis.Run](ctx, c, request{method: http.MethodGet, path: runPath(name)})
}

// ListOptions select and page a list.
type ListOptions struct {
	LabelSelector string
	FieldSelector string
	// Limit is the page size; 0 means all.
	Limit int
	// Continue is the previous page's metadata.continue.
	Continue string
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.LabelSelector != "" {
		q.Set("labelSelector", o.LabelSelector)
	}
	if o.FieldSelector != "" {
		q.Set("fieldSelector", o.FieldSelector)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Continue != "" {
		q.Set("continue", o.Continue)
	}
	return q
}

// List reads one page of Runs.
func (c *Client) List(ctx context.Context, opts ListOptions) (*apis.RunList, error) {
	return call[apis.RunList](ctx, c, request{method: http.MethodGet, path: "/api/v1/runs", query: opts.query()})
}

// DeleteOptions modify Delete.
type DeleteOptions struct {
	// Wait returns only once the Run is gone (its task killed).
	Wait bool
	// ResourceVersion, when set, is a precondition.
	ResourceVersion string
}

// Delete deletes a Run; its task is killed first. Without Wait it returns
// the Run as the server last had it (with a deletionTimestamp while the
// task is being killed).
func (c *Client) Delete(ctx context.Context, name string, opts DeleteOptions) (*apis.Run, error) {
	q := deleteQuery(opts.ResourceVersion)
	var out apis.Run
	_, code, err := c.doJSON(ctx, request{method: http.MethodDelete, path: runPath(name), query: q}, &out)
	if err != nil {
		return nil, err
	}
	if code == http.StatusAccepted && opts.Wait {
		if err := c.WaitDeleted(ctx, name); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// Kill sets spec.cancel: the task is killed and the record kept (phase
// Killed). It retries when a concurrent status write moved the
// resourceVersion; killing a killed Run is a no-op, and so is killing a
// Run already in a terminal phase, which is returned unchanged (callers
// tell by its Status.Phase).
func (c *Client) Kill(ctx context.Context, name string) (*apis.Run, error) {
	return updateRetrying(ctx, c, runKind, name, func(run *apis.Run) bool {
		if run.Spec.Cancel || run.Status.Phase.Terminal() {
			return false
		}
		run.Spec.Cancel = true
		return true
	})
}

// Events reads a Run's recent events, oldest first.
func (c *Client) Events(ctx context.Context, name string) ([]apis.RunEvent, error) {
	var out struct {
		Items []apis.RunEvent `json:"items"`
	}
	if _, _, err := c.doJSON(ctx, request{method: http.MethodGet, path: runPath(name) + "/events"}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// Dependents reads the Runs downstream of a Run (those whose
// spec.dependsOn names it, and so on) as a tree rooted at the Run, with
// each one's phase. A Run that does not exist is an error for which
// IsNotFound is true.
func (c *Client) Dependents(ctx context.Context, name string) (*apis.RunDependents, error) {
	return call[apis.RunDependents](ctx, c, request{method: http.MethodGet, path: runPath(name) + "/dependents"})
}

// ListAll reads every matching Run, following continue tokens in pages of
// pageSize (0 means 500). The list's resourceVersion is the first page's,
// from which a watch misses nothing.
func (c *Client) ListAll(ctx context.Context, opts ListOptions, pageSize int) (*apis.RunList, error) {
	if pageSize <= 0 {
		pageSize = 500
	}
	opts.Limit, opts.Continue = pageSize, ""
	all := &apis.RunList{TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRunList}, Items: []apis.Run{}}
	for {
		page, err := c.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		all.Items = append(all.Items, page.Items...)
		if all.Metadata.ResourceVersion == "" {
			all.Metadata.ResourceVersion = page.Metadata.ResourceVersion
		}
		if page.Metadata.Continue == "" {
			return all, nil
		}
		opts.Continue = page.Metadata.Continue
	}
}

// ApplyListResult is the outcome of one Run of ApplyList: the Run as the
// server stored it (for a dry run, as it would) and what the apply did, or
// Err, the server's *apis.Status for that Run.
type ApplyListResult struct {
	Run    *apis.Run
	Result ApplyResult
	Err    error
}

// ApplyList applies runs as Apply does, all in one request (POST
// /api/v1/runs:apply, one Raft entry) of at most apis.MaxApplyItems Runs;
// results are in the order of runs. Each Run succeeds or fails on its
// own; the error is for the request as a whole (the server unreachable,
// the body too large, a Run that does not decode). Force is not done here:
// Apply a Run whose result is invalid again with Force to replace it.
func (c *Client) ApplyList(ctx context.Context, runs []apis.Run, opts ApplyOptions) ([]ApplyListResult, error) {
	out := make([]ApplyListResult, len(runs))
	send := make([]apis.Run, 0, len(runs))
	index := make([]int, 0, len(runs))
	for i := range runs {
		if runs[i].Metadata.Name == "" && runs[i].Metadata.GenerateName == "" {
			out[i].Err = errors.New("apply: the Run has neither metadata.name nor metadata.generateName")
			continue
		}
		send = append(send, runs[i])
		index = append(index, i)
	}
	if len(send) == 0 {
		return out, nil
	}
	if len(send) > apis.MaxApplyItems {
		return nil, fmt.Errorf("apply list: %d Runs, at most %d per request", len(send), apis.MaxApplyItems)
	}
	body, err := json.Marshal(apis.RunList{TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRunList}, Items: send})
	if err != nil {
		return nil, fmt.Errorf("encode runs: %w", err)
	}
	var answer apis.RunApplyList
	if _, _, err := c.doJSON(ctx, request{method: http.MethodPost, path: "/api/v1/runs:apply", query: dryRunQuery(opts.DryRun), body: body}, &answer); err != nil {
		return nil, err
	}
	if len(answer.Items) != len(send) {
		return nil, fmt.Errorf("apply list: the server answered %d items for %d Runs", len(answer.Items), len(send))
	}
	for k, it := range answer.Items {
		res := &out[index[k]]
		if it.Error != nil {
			st := *it.Error
			res.Err = &st
			continue
		}
		var run apis.Run
		if err := json.Unmarshal(it.Object, &run); err != nil {
			return nil, fmt.Errorf("apply list: decode %s: %w", it.Name, err)
		}
		res.Run, res.Result = &run, ApplyResult(it.Result)
	}
	return out, nil
}

// IsNoSuchPath reports whether err says the server has no such API path,
// e.g. an older server without an endpoint.
func IsNoSuchPath(err error) bool {
	var st *apis.Status
	if !errors.As(err, &st) {
		return false
	}
	if st.Code == http.StatusMethodNotAllowed {
		return true
	}
	var ua *UnexpectedAnswerError
	return st.Code == http.StatusNotFound && errors.As(err, &ua)
}
