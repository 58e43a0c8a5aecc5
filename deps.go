//go:build deps

// This file pins, through go.mod, the modules sprint's packages are being
// built on while those packages are written; it is never compiled.
package deps

import (
	_ "github.com/anishathalye/porcupine"
	_ "github.com/google/uuid"
	_ "github.com/hashicorp/go-hclog"
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/raft-boltdb/v2"
	_ "github.com/invopop/jsonschema"
	_ "github.com/labstack/echo/v4"
	_ "github.com/mesos/mesos-go/api/v1/lib"
	_ "github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	_ "github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/controller"
	_ "github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	_ "github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/stretchr/testify/require"
	_ "go.etcd.io/bbolt"
	_ "sigs.k8s.io/yaml"
)
