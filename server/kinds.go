package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// kind describes one kind of stored object (Run, Schedule, Notifier) to
// the handlers every kind shares, written once in this file: reading one
// object from a request body, get, create, apply and one page of a list.
// What differs between the kinds — their store, defaults, validation,
// admission — is in the functions a handler is given; a new kind is a
// descriptor and those functions, not a copy of the handlers.
type kind[T any] struct {
	// name and listKind are the kind and its list as the API spells them.
	name, listKind string
	// parts are the object's type and metadata.
	parts func(*T) (*apis.TypeMeta, *apis.ObjectMeta)
	// clone is a deep copy.
	clone func(*T) *T
	// shortYAMLHint keeps the Notifiers' shorter 413 message for a YAML
	// body over MaxYAMLBodyBytes.
	shortYAMLHint bool
}

// The descriptors of the three kinds. They are never written.
var (
	runKind = kind[apis.Run]{name: apis.KindRun, listKind: apis.KindRunList, clone: (*apis.Run).DeepCopy,
		parts: func(r *apis.Run) (*apis.TypeMeta, *apis.ObjectMeta) { return &r.TypeMeta, &r.Metadata }}
	scheduleKind = kind[apis.Schedule]{name: apis.KindSchedule, listKind: apis.KindScheduleList, clone: (*apis.Schedule).DeepCopy,
		parts: func(s *apis.Schedule) (*apis.TypeMeta, *apis.ObjectMeta) { return &s.TypeMeta, &s.Metadata }}
	notifierKind = kind[apis.Notifier]{name: apis.KindNotifier, listKind: apis.KindNotifierList, clone: (*apis.Notifier).DeepCopy,
		parts: func(n *apis.Notifier) (*apis.TypeMeta, *apis.ObjectMeta) { return &n.TypeMeta, &n.Metadata }, shortYAMLHint: true}
)

// typed returns a copy of obj with its apiVersion and kind set. It never
// writes to obj: objects from the store may be shared with watchers.
func (k kind[T]) typed(obj *T) *T {
	c := *obj
	tm, _ := k.parts(&c)
	tm.APIVersion, tm.Kind = apis.APIVersion, k.name
	return &c
}

// meta is the object's metadata.
func (k kind[T]) meta(obj *T) *apis.ObjectMeta {
	_, m := k.parts(obj)
	return m
}

// objectList is a page of objects of one kind, as RunList, ScheduleList
// and NotifierList are (the same fields, the same JSON).
type objectList[T any] struct {
	apis.TypeMeta `json:",inline"`
	Metadata      apis.ListMeta `json:"metadata"`
	Items         []T           `json:"items"`
}

// readOneBody reads the body of a write that carries one object of kind
// k: JSON, or YAML with its content type, not empty, and a YAML body at
// most MaxYAMLBodyBytes (decoding YAML costs far more than JSON). The
// caller decodes it, strictly, under s.decoding.
func readOneBody[T any](s *Server, c echo.Context, k kind[T]) ([]byte, error) {
	if _, err := bodyFormat(c, true); err != nil {
		return nil, err
	}
	b, err := s.readBody(c)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, badRequest("request body is empty: send one %s", k.name)
	}
	if !apis.IsJSON(b) && int64(len(b)) > s.cfg.MaxYAMLBodyBytes {
		if k.shortYAMLHint {
			return nil, statusError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
				"YAML request body is larger than %d bytes: send it as JSON", s.cfg.MaxYAMLBodyBytes)
		}
		return nil, statusError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			"YAML request body is larger than %d bytes: send it as JSON (up to %d bytes), which costs the server far less to decode",
			s.cfg.MaxYAMLBodyBytes, s.cfg.MaxBodyBytes)
	}
	return b, nil
}

// clearServerSet clears the metadata only the server sets on an object
// about to be created, and completes a generateName as Kubernetes does.
func clearServerSet(m *apis.ObjectMeta) {
	m.UID, m.ResourceVersion, m.Generation = "", "", 0
	m.CreationTimestamp, m.DeletionTimestamp = nil, nil
	if m.Name == "" && m.GenerateName != "" {
		m.Name = m.GenerateName + randomSuffix()
	}
}

// invalidKind turns validation problems of an object of kind k into the
// error the Status mapping answers 422 for; nil when there are none.
func invalidKind[T any](k kind[T], name string, errs apis.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return &apis.InvalidError{Kind: k.name, Name: name, Errors: errs}
}

// labelAndNameMatcher is the selector of a kind whose lists filter by
// labels and by metadata.name only (not by the Runs' status fields); nil
// when neither is set.
func labelAndNameMatcher[T any](k kind[T], labelSel, fieldSel string) (func(*T) bool, error) {
	var preds []func(*T) bool
	if labelSel != "" {
		sel, err := apis.ParseLabelSelector(labelSel)
		if err != nil {
			return nil, asBadRequest("labelSelector", err)
		}
		preds = append(preds, func(o *T) bool { return sel.MatchesLabels(k.meta(o).Labels) })
	}
	if fieldSel != "" {
		name, ok := strings.CutPrefix(fieldSel, "metadata.name=")
		if !ok || strings.ContainsAny(name, ",=!") {
			return nil, badRequest("fieldSelector %s: %ss support only metadata.name=NAME", quoteClip(fieldSel), k.name)
		}
		preds = append(preds, func(o *T) bool { return k.meta(o).Name == name })
	}
	return allOf(preds), nil
}

// allOf is the predicate every one of preds holds for; nil for none.
func allOf[T any](preds []func(*T) bool) func(*T) bool {
	switch len(preds) {
	case 0:
		return nil
	case 1:
		return preds[0]
	}
	return func(o *T) bool {
		for _, p := range preds {
			if !p(o) {
				return false
			}
		}
		return true
	}
}

// pageLister reads one page from the local applied state: at most limit
// objects (0: all) after the store's continue position cont.
type pageLister[T any] func(ctx context.Context, limit int, cont string) ([]T, apis.ListMeta, error)

// servePage answers one page of a list of kind k whose request's
// selectors are labelSel and fieldSel: the continue token of the request
// opened (it is bound to those selectors), the next one sealed, every
// item typed.
func servePage[T any](c echo.Context, k kind[T], labelSel, fieldSel string, limit int, list pageLister[T]) error {
	cont := ""
	if tok := c.QueryParam("continue"); tok != "" {
		var err error
		if cont, err = openContinue(tok, labelSel, fieldSel); err != nil {
			return err
		}
	}
	items, meta, err := list(c.Request().Context(), limit, cont)
	if err != nil {
		return err
	}
	return writeList(c, k, meta, items, labelSel, fieldSel)
}

// writeList answers a page the store listed: its continue token sealed to
// the request's selectors, every item typed.
func writeList[T any](c echo.Context, k kind[T], meta apis.ListMeta, items []T, labelSel, fieldSel string) error {
	meta.Continue = sealContinue(meta.Continue, labelSel, fieldSel)
	out := make([]T, len(items))
	for i := range items {
		out[i] = *k.typed(&items[i])
	}
	return c.JSON(http.StatusOK, objectList[T]{TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: k.listKind}, Metadata: meta, Items: out})
}

// getObject serves GET of one object as a linearizable read: it runs on
// the leader (leaderOnly) after a read barrier, so a client that just
// wrote through any node reads its write.
func getObject[T any](s *Server, c echo.Context, k kind[T], get func(context.Context, string) (*T, error)) error {
	ctx := c.Request().Context()
	if err := s.store.LinearizableRead(ctx); err != nil {
		return err
	}
	obj, err := get(ctx, c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, k.typed(obj))
}

// writer is how a kind's objects are read from a request and created.
type writer[T any] struct {
	// decode reads one object from the request body.
	decode func(echo.Context) (*T, error)
	// prepareNew clears what only the server sets, defaults, validates
	// and admits an object about to be created.
	prepareNew func(*T) error
	// create stores a new object.
	create func(context.Context, *T) (*T, error)
}

// createObject serves POST of a new object (?dryRun=true: shown, not
// stored).
func createObject[T any](c echo.Context, k kind[T], w writer[T]) error {
	obj, dryRun, err := decodeWrite(c, w.decode)
	if err != nil {
		return err
	}
	if err := w.prepareNew(obj); err != nil {
		return err
	}
	if dryRun {
		return c.JSON(http.StatusCreated, k.typed(obj))
	}
	created, err := w.create(c.Request().Context(), obj)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, k.typed(created))
}

// decodeWrite reads the object of a write and its dryRun parameter.
func decodeWrite[T any](c echo.Context, decode func(echo.Context) (*T, error)) (*T, bool, error) {
	obj, err := decode(c)
	if err != nil {
		return nil, false, err
	}
	dryRun, err := queryBool(c, "dryRun")
	return obj, dryRun, err
}

// readApply reads the object of a PUT to its name: decoded, dryRun
// parsed, and the name of the URL set where the body has none.
func readApply[T any](c echo.Context, k kind[T], decode func(echo.Context) (*T, error)) (obj *T, dryRun bool, err error) {
	if obj, dryRun, err = decodeWrite(c, decode); err != nil {
		return nil, false, err
	}
	name, m := c.Param("name"), k.meta(obj)
	if m.Name == "" {
		m.Name = name
	}
	if m.Name != name {
		return nil, false, badRequest("metadata.name %q does not match the name %q in the URL", m.Name, name)
	}
	return obj, dryRun, nil
}

// conflictMissing is the 409 of an apply whose resourceVersion
// precondition names an object that does not exist.
func conflictMissing(kindName, name string) error {
	return statusError(http.StatusConflict, "Conflict", "%s %q does not exist, but the request has a resourceVersion precondition", kindName, name)
}

// conflictChanged is the 409 of an apply whose resourceVersion
// precondition is not the stored object's.
func conflictChanged(kindName, name, have, want string) error {
	return statusError(http.StatusConflict, "Conflict",
		"%s %q has resourceVersion %s, not %s: it changed since you read it", kindName, name, have, want)
}

// applyStatus is the HTTP status of an apply with this result.
func applyStatus(result string) int {
	if result == ApplyCreated {
		return http.StatusCreated
	}
	return http.StatusOK
}

// applier is how a kind's objects are applied (PUT to their name) by
// applyObject, beyond creating them.
type applier[T any] struct {
	writer[T]
	// get reads the stored object from the local applied state.
	get func(context.Context, string) (*T, error)
	// setSpec defaults desired and sets next's spec to desired's.
	setSpec func(next, desired *T)
	// check validates next, the stored object cur with the desired
	// labels, annotations and spec, as an update, and admits it.
	check func(next, cur *T) error
	// equal tells whether next changes nothing of cur.
	equal func(next, cur *T) bool
	// update writes next, whose resourceVersion is the precondition;
	// unchanged when the store found nothing to write.
	update func(ctx context.Context, next *T) (out *T, unchanged bool, err error)
	// storeDecides sends an update that equal calls unchanged to the
	// store anyway and answers what it says (the Notifiers'); otherwise
	// such an apply answers the stored object, unchanged, unwritten.
	storeDecides bool
	// retryStale decides once more, after a read barrier, when the store
	// refused a write without a precondition because the local state it
	// was decided on was behind the log (already exists, not found).
	retryStale bool
}

// applyObject serves PUT of an object to its name: create it when absent,
// otherwise replace its labels, annotations and spec, or change nothing
// when the manifest changes nothing. A metadata.resourceVersion in the
// body is a precondition. The outcome is in HeaderApplyResult.
func applyObject[T any](s *Server, c echo.Context, k kind[T], a applier[T]) error {
	desired, dryRun, err := readApply(c, k, a.decode)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	name := c.Param("name")
	precondition := k.meta(desired).ResourceVersion
	for try := 0; ; try++ {
		if try > 0 {
			if err := s.store.LinearizableRead(ctx); err != nil {
				return err
			}
		}
		cur, err := a.get(ctx, name)
		if errors.Is(err, apis.ErrNotFound) {
			cur, err = nil, nil
		}
		if err != nil {
			return err
		}
		var out *T
		result := ApplyConfigured
		if cur == nil {
			if precondition != "" {
				return conflictMissing(k.name, name)
			}
			obj := k.clone(desired)
			if err := a.prepareNew(obj); err != nil {
				return err
			}
			result, out = ApplyCreated, obj
			if !dryRun {
				out, err = a.create(ctx, obj)
			}
		} else {
			if have := k.meta(cur).ResourceVersion; precondition != "" && precondition != have {
				return conflictChanged(k.name, name, have, precondition)
			}
			d, next := k.clone(desired), k.clone(cur)
			a.setSpec(next, d)
			nm, dm := k.meta(next), k.meta(d)
			nm.Labels, nm.Annotations = dm.Labels, dm.Annotations
			if err := a.check(next, cur); err != nil {
				return err
			}
			unchanged := a.equal(next, cur)
			switch {
			case unchanged && !a.storeDecides:
				result, out = ApplyUnchanged, cur
			case dryRun:
				out = next
				if unchanged {
					result = ApplyUnchanged
				}
			default:
				req := k.clone(next)
				k.meta(req).ResourceVersion = precondition
				var same bool
				if out, same, err = a.update(ctx, req); same {
					result = ApplyUnchanged
				}
			}
		}
		if err != nil {
			if a.retryStale && try == 0 && precondition == "" && (errors.Is(err, apis.ErrAlreadyExists) || errors.Is(err, apis.ErrNotFound)) {
				continue
			}
			return err
		}
		c.Response().Header().Set(HeaderApplyResult, result)
		return c.JSON(applyStatus(result), k.typed(out))
	}
}
