package apis

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateRunUpdate(t *testing.T) {
	const imm = ": field is immutable; delete and re-create the Run, or apply with --force"
	base := func() *Run {
		r := dockerRun()
		r.Spec.Env = map[string]string{"A": "1"}
		r.Spec.Container.PortMappings = []PortMapping{{ContainerPort: 80, Name: "http"}}
		SetDefaults(r)
		return r
	}
	tests := map[string]struct {
		edit func(r *Run)
		want []string
	}{
		"unchanged":           {edit: func(r *Run) {}},
		"labels mutable":      {edit: func(r *Run) { r.Metadata.Labels = map[string]string{"x": "y"} }},
		"annotations mutable": {edit: func(r *Run) { r.Metadata.Annotations = map[string]string{"x": "y"} }},
		"mutable spec fields": {edit: func(r *Run) {
			r.Spec.ActiveDeadlineSeconds = 60
			r.Spec.TTLSecondsAfterFinished = i64(5)
			r.Spec.Cancel = true
		}},
		"name": {edit: func(r *Run) { r.Metadata.Name = "other" }, want: []string{"metadata.name" + imm}},
		"cpus": {edit: func(r *Run) { r.Spec.Cpus = 2 }, want: []string{"spec.cpus" + imm}},
		"env":  {edit: func(r *Run) { r.Spec.Env["A"] = "2"; r.Spec.Env["B"] = "3" }, want: []string{"spec.env" + imm}},
		"nested": {edit: func(r *Run) {
			r.Spec.Container.Docker.Image = "busybox"
			r.Spec.Container.PortMappings[0].HostPort = 8080
		}, want: []string{
			"spec.container.docker.image" + imm, "spec.container.portMappings[0].hostPort" + imm}},
		"list length": {edit: func(r *Run) { r.Spec.Container.PortMappings = nil }, want: []string{"spec.container.portMappings" + imm}},
		"several": {edit: func(r *Run) { r.Spec.Command = "echo"; r.Spec.Mem = 1; r.Spec.BackoffLimit = 3 }, want: []string{
			"spec.backoffLimit" + imm, "spec.command" + imm, "spec.mem" + imm}},
		"invalid and immutable": {edit: func(r *Run) { r.Spec.Cpus = 0 }, want: []string{"spec.cpus: must be greater than 0", "spec.cpus" + imm}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			old, nw := base(), base()
			tc.edit(nw)
			assert.Equal(t, tc.want, messagesOrNil(ValidateRunUpdate(nw, old)))
		})
	}
}
