package server

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// decideApply returns the Decide function of an apply of desired (whose
// name is set): create it, after defaults, validation and the admission
// policy, when there is no such Run; otherwise update the stored Run's
// labels, annotations and spec, with the update's validation (immutable
// fields). A metadata.resourceVersion in desired is a precondition. With
// createOnly (a name generated from generateName) an existing Run is a
// conflict, never updated. The function runs on the leader, against the
// state the store decides on, and may run more than once.
func (s *Server) decideApply(desired *apis.Run, createOnly bool) func(cur *apis.Run) (*apis.Run, error) {
	name := desired.Metadata.Name
	precondition := desired.Metadata.ResourceVersion
	return func(cur *apis.Run) (*apis.Run, error) {
		if cur == nil {
			if precondition != "" {
				return nil, conflictMissing(apis.KindRun, name)
			}
			run := *desired
			if err := s.prepareNew(&run); err != nil {
				return nil, err
			}
			return &run, nil
		}
		if createOnly {
			return nil, fmt.Errorf("run %q: %w", name, apis.ErrAlreadyExists)
		}
		if precondition != "" && precondition != cur.Metadata.ResourceVersion {
			return nil, conflictChanged(apis.KindRun, name, cur.Metadata.ResourceVersion, precondition)
		}
		d := *desired
		apis.SetDefaults(&d)
		// Server-set metadata comes from the stored object; the rest from
		// the manifest.
		if err := invalid(name, apis.ValidateCancelReasonWrite(&d, cur)); err != nil {
			return nil, err
		}
		next := *cur
		next.Metadata.Labels = d.Metadata.Labels
		next.Metadata.Annotations = d.Metadata.Annotations
		if mark, ok := cur.Metadata.Annotations[apis.AnnotationCancelReason]; ok {
			// The store's mark stays when a manifest leaves it out.
			next.Metadata.Annotations = maps.Clone(d.Metadata.Annotations)
			if next.Metadata.Annotations == nil {
				next.Metadata.Annotations = map[string]string{}
			}
			next.Metadata.Annotations[apis.AnnotationCancelReason] = mark
		}
		next.Spec = d.Spec
		if err := invalid(name, apis.ValidateRunUpdate(&next, cur)); err != nil {
			return nil, err
		}
		return &next, nil
	}
}

// applyRun serves PUT /api/v1/runs/{name}: create when absent; when
// present, update the mutable fields, or do nothing when the manifest
// changes nothing. The outcome is in HeaderApplyResult; the answer is the
// Run as committed.
func (s *Server) applyRun(c echo.Context) error {
	run, dryRun, err := readApply(c, runKind, s.decodeRun)
	if err != nil {
		return err
	}
	name := run.Metadata.Name
	res, err := s.store.ApplyRuns(c.Request().Context(), []ApplyItem{{Name: name, Precondition: run.Metadata.ResourceVersion, Decide: s.decideApply(run, false)}}, dryRun)
	if err != nil {
		return err
	}
	r := res[0]
	if r.Err != nil {
		return r.Err
	}
	c.Response().Header().Set(HeaderApplyResult, r.Result)
	return c.JSONBlob(applyStatus(r.Result), r.Object)
}

// applyList serves POST /api/v1/runs:apply: every Run of the body (a
// RunList, a multi-document YAML stream, a JSON array or stream of Runs)
// is applied as PUT /api/v1/runs/{name} would, all in one Raft entry. A
// Run with only metadata.generateName is created under a generated name.
// Each Run's outcome is in its item of the RunApplyList answered (200);
// a refused Run (invalid, forbidden, conflict) does not hold up the
// others. The list is not atomic: what it applied stays applied.
func (s *Server) applyList(c echo.Context) error {
	if _, err := bodyFormat(c, true); err != nil {
		return err
	}
	b, err := s.readBody(c)
	if err != nil {
		return err
	}
	dryRun, err := queryBool(c, "dryRun")
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return badRequest("request body is empty: send a RunList")
	}
	runs, err := apis.DecodeRuns(b)
	if err != nil {
		if errors.Is(err, apis.ErrBadRequest) || errors.Is(err, apis.ErrInvalid) {
			return err
		}
		return fmt.Errorf("%w: %w", apis.ErrBadRequest, err)
	}
	if len(runs) == 0 {
		return badRequest("request body holds no Runs")
	}
	if len(runs) > apis.MaxApplyItems {
		return statusError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			"request body holds %d Runs; at most %d per request: split the list", len(runs), apis.MaxApplyItems)
	}
	out := apis.RunApplyList{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRunApplyList},
		Items:    make([]apis.RunApplyItem, len(runs)),
	}
	items := make([]ApplyItem, 0, len(runs))
	index := make([]int, 0, len(runs)) // items[k] is runs[index[k]]
	for i := range runs {
		r := &runs[i]
		createOnly := false
		if r.Metadata.Name == "" && r.Metadata.GenerateName != "" {
			r.Metadata.Name = r.Metadata.GenerateName + randomSuffix()
			createOnly = true
		}
		out.Items[i].Name = r.Metadata.Name
		if r.Metadata.Name == "" {
			out.Items[i].Error = itemStatus(invalid("", apis.ErrorList{{Field: "metadata.name", Message: "required (or set metadata.generateName)"}}))
			continue
		}
		items = append(items, ApplyItem{Name: r.Metadata.Name, Precondition: r.Metadata.ResourceVersion, Decide: s.decideApply(r, createOnly)})
		index = append(index, i)
	}
	if len(items) > 0 {
		res, err := s.store.ApplyRuns(c.Request().Context(), items, dryRun)
		if err != nil {
			return err
		}
		for k, r := range res {
			it := &out.Items[index[k]]
			if r.Err != nil {
				it.Error = itemStatus(r.Err)
				continue
			}
			it.Result, it.Object = r.Result, r.Object
		}
	}
	return c.JSON(http.StatusOK, out)
}

// itemStatus is the Status of one refused item of a bulk apply.
func itemStatus(err error) *apis.Status {
	st := toStatus(err, "")
	st.Message = clipMessage(st.Message)
	return st
}
