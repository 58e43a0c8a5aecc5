package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// runDependents serves GET /api/v1/runs/{name}/dependents: the Runs
// downstream of a Run, as a tree, from local state (as events are).
func (s *Server) runDependents(c echo.Context) error {
	ctx := c.Request().Context()
	root, err := s.store.GetRun(ctx, c.Param("name"))
	if err != nil {
		return err
	}
	tree, err := dependentsTree(ctx, s.store, root)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tree)
}

// dependentsStore is what dependentsTree reads.
type dependentsStore interface {
	GetRun(ctx context.Context, name string) (*apis.Run, error)
	Dependents(ctx context.Context, name string) ([]string, error)
}

// dependentsTree builds root's downstream subtree, depth first in name
// order. A Run reached again through another parent (a DAG, not a tree) is
// listed there as Repeated, without its dependents, so the answer grows
// with the Runs, not the paths; past apis.MaxDependentsNodes nodes it is
// truncated. Each node costs two reads of local state.
func dependentsTree(ctx context.Context, st dependentsStore, root *apis.Run) (*apis.RunDependents, error) {
	out := &apis.RunDependents{
		TypeMeta:      apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRunDependents},
		DependentNode: apis.DependentNode{Name: root.Metadata.Name, Phase: root.Status.Phase, Reason: root.Status.Reason},
	}
	expanded := map[string]bool{root.Metadata.Name: true}
	nodes := 1
	var expand func(n *apis.DependentNode) error
	expand = func(n *apis.DependentNode) error {
		names, err := st.Dependents(ctx, n.Name)
		if err != nil {
			return fmt.Errorf("dependents of %s: %w", n.Name, err)
		}
		for _, name := range names {
			if nodes >= apis.MaxDependentsNodes {
				out.Truncated = true
				return nil
			}
			r, err := st.GetRun(ctx, name)
			if errors.Is(err, apis.ErrNotFound) {
				continue // deleted since
			}
			if err != nil {
				return fmt.Errorf("dependent %s: %w", name, err)
			}
			i := slices.IndexFunc(r.Spec.DependsOn, func(d apis.RunDependency) bool { return d.Name == n.Name })
			if i < 0 {
				continue
			}
			nodes++
			child := apis.DependentNode{Name: name, Phase: r.Status.Phase, Reason: r.Status.Reason, Condition: r.Spec.DependsOn[i].Condition}
			if expanded[name] {
				child.Repeated = true
			} else {
				expanded[name] = true
				if err := expand(&child); err != nil {
					return err
				}
			}
			n.Dependents = append(n.Dependents, child)
		}
		return nil
	}
	if err := expand(&out.DependentNode); err != nil {
		return nil, err
	}
	return out, nil
}
