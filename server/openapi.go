package server

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// The OpenAPI 3 description of the API served at /openapi.json. It is
// written out by hand, apart from the router, so that
// TestOpenAPI_MatchesRoutes catches a route added to one and not the other.

type oaParam struct {
	Name, In, Desc, Type string
	Required             bool
}

type oaOp struct {
	Method, Path, Tag, Summary string
	Params                     []oaParam
	Body                       string // schema ref of the request body, if any
	Responses                  map[string]string
}

func openAPIOps() []oaOp {
	pName := oaParam{Name: "name", In: "path", Desc: "Run name", Type: "string", Required: true}
	pID := oaParam{Name: "id", In: "path", Desc: "Sprint run id (a UUID)", Type: "string", Required: true}
	pSched := oaParam{Name: "name", In: "path", Desc: "Schedule name", Type: "string", Required: true}
	pNotifier := oaParam{Name: "name", In: "path", Desc: "Notifier name", Type: "string", Required: true}
	pDryRun := oaParam{Name: "dryRun", In: "query", Desc: "validate and show the result without storing", Type: "boolean"}
	errs := func(m map[string]string) map[string]string {
		m["default"] = "Status: the error, with field causes"
		return m
	}
	return []oaOp{
		{Method: "GET", Path: "/api/v1/runs", Tag: "runs", Summary: "List Runs, or watch them with watch=true (NDJSON; SSE with Accept: text/event-stream)",
			Params: []oaParam{
				{Name: "labelSelector", In: "query", Type: "string", Desc: "e.g. team=data,tier!=batch"},
				{Name: "fieldSelector", In: "query", Type: "string", Desc: "metadata.name or status.phase, e.g. status.phase=Running"},
				{Name: "limit", In: "query", Type: "integer", Desc: "page size"},
				{Name: "continue", In: "query", Type: "string", Desc: "token of the next page"},
				{Name: "watch", In: "query", Type: "boolean", Desc: "stream changes instead of listing"},
				{Name: "resourceVersion", In: "query", Type: "string", Desc: "watch: resume after this version; absent: existing Runs first as ADDED, then a BOOKMARK annotated sprint/initial-events-end"},
			},
			Responses: errs(map[string]string{"200": "RunList, or a stream of WatchEvent", "429": "Status: too many watches, or lists without limit, from this client or on this node; Retry-After says when to try again"})},
		{Method: "POST", Path: "/api/v1/runs", Tag: "runs", Summary: "Create a Run (JSON, or YAML with Content-Type: application/yaml)",
			Params: []oaParam{pDryRun}, Body: "Run", Responses: errs(map[string]string{"201": "Run"})},
		{Method: "GET", Path: "/api/v1/runs/{name}", Tag: "runs", Summary: "Read one Run (linearizable: served by the leader)",
			Params: []oaParam{pName}, Responses: errs(map[string]string{"200": "Run"})},
		{Method: "PUT", Path: "/api/v1/runs/{name}", Tag: "runs", Summary: "Apply a Run: create, update its mutable fields, or leave it unchanged (header Sprint-Apply-Result)",
			Params: []oaParam{pName, pDryRun}, Body: "Run", Responses: errs(map[string]string{"200": "Run (configured or unchanged)", "201": "Run (created)"})},
		{Method: "POST", Path: "/api/v1/runs:apply", Tag: "runs", Summary: "Apply many Runs in one Raft entry (a RunList, a multi-document YAML stream or a JSON array; at most 1000): each created, configured, unchanged or refused on its own",
			Params: []oaParam{pDryRun}, Body: "RunList", Responses: errs(map[string]string{"200": "RunApplyList (per Run: its result and object, or its error Status)"})},
		{Method: "DELETE", Path: "/api/v1/runs/{name}", Tag: "runs", Summary: "Delete a Run; its task is killed first",
			Params:    []oaParam{pName, {Name: "resourceVersion", In: "query", Type: "string", Desc: "precondition"}},
			Responses: errs(map[string]string{"200": "Run (deleted)", "202": "Run (deletion pending while the task is killed)"})},
		{Method: "GET", Path: "/api/v1/runs/{name}/log", Tag: "runs", Summary: "The task's sandbox output",
			Params: []oaParam{pName,
				{Name: "stream", In: "query", Type: "string", Desc: "stdout (default) or stderr"},
				{Name: "follow", In: "query", Type: "boolean", Desc: "keep streaming until the task ends"},
				{Name: "tail", In: "query", Type: "integer", Desc: "start this many lines before the end"},
			},
			Responses: errs(map[string]string{"200": "text/plain output"})},
		{Method: "GET", Path: "/api/v1/runs/{name}/events", Tag: "runs", Summary: "A Run's recent events",
			Params: []oaParam{pName}, Responses: errs(map[string]string{"200": "RunEventList"})},
		{Method: "GET", Path: "/api/v1/runs/{name}/dependents", Tag: "runs", Summary: "The Runs downstream of a Run (spec.dependsOn), as a tree with each one's phase",
			Params: []oaParam{pName}, Responses: errs(map[string]string{"200": "RunDependents"})},
		{Method: "GET", Path: "/api/v1/schedules", Tag: "schedules", Summary: "List Schedules, or watch them with watch=true (NDJSON; SSE with Accept: text/event-stream)",
			Params: []oaParam{
				{Name: "labelSelector", In: "query", Type: "string", Desc: "e.g. team=data"},
				{Name: "fieldSelector", In: "query", Type: "string", Desc: "metadata.name=NAME only"},
				{Name: "limit", In: "query", Type: "integer", Desc: "page size"},
				{Name: "continue", In: "query", Type: "string", Desc: "token of the next page"},
				{Name: "watch", In: "query", Type: "boolean", Desc: "stream changes instead of listing"},
				{Name: "resourceVersion", In: "query", Type: "string", Desc: "watch: resume after this version; absent: existing Schedules first as ADDED, then a BOOKMARK annotated sprint/initial-events-end"},
			},
			Responses: errs(map[string]string{"200": "ScheduleList, or a stream of WatchEvent"})},
		{Method: "POST", Path: "/api/v1/schedules", Tag: "schedules", Summary: "Create a Schedule (JSON, or YAML with Content-Type: application/yaml); 503 while a member runs a binary without Schedules",
			Params: []oaParam{pDryRun}, Body: "Schedule", Responses: errs(map[string]string{"201": "Schedule"})},
		{Method: "GET", Path: "/api/v1/schedules/{name}", Tag: "schedules", Summary: "Read one Schedule (linearizable: served by the leader)",
			Params: []oaParam{pSched}, Responses: errs(map[string]string{"200": "Schedule"})},
		{Method: "PUT", Path: "/api/v1/schedules/{name}", Tag: "schedules", Summary: "Apply a Schedule: create, update labels, annotations and spec (all mutable), or leave it unchanged (header Sprint-Apply-Result); status is not written here",
			Params: []oaParam{pSched, pDryRun}, Body: "Schedule", Responses: errs(map[string]string{"200": "Schedule (configured or unchanged)", "201": "Schedule (created)"})},
		{Method: "DELETE", Path: "/api/v1/schedules/{name}", Tag: "schedules", Summary: "Delete a Schedule and its Runs (live tasks are killed first), or orphan them",
			Params: []oaParam{pSched,
				{Name: "propagationPolicy", In: "query", Type: "string", Desc: "Background (default) or Foreground: delete its Runs; Orphan: keep them, without the owner reference"},
				{Name: "resourceVersion", In: "query", Type: "string", Desc: "precondition"}},
			Responses: errs(map[string]string{"200": "Schedule (deleted)"})},
		{Method: "POST", Path: "/api/v1/schedules/{name}/runs", Tag: "schedules", Summary: "Fire now, outside the schedule: spec.parallelism Runs named NAME-m<id>-<i> (id: the time in base 36 and 4 random characters); lastScheduleTime is not changed",
			Params: []oaParam{pSched, pDryRun}, Responses: errs(map[string]string{"201": "RunList (the Runs created)"})},
		{Method: "GET", Path: "/api/v1/schedules/{name}/events", Tag: "schedules", Summary: "A Schedule's recent events (Fired, Skipped, Replaced, Missed)",
			Params: []oaParam{pSched}, Responses: errs(map[string]string{"200": "RunEventList"})},
		{Method: "GET", Path: "/api/v1/notifiers", Tag: "notifiers", Summary: "List Notifiers with their delivery counts (delivered, failed, pending, lastError)",
			Params: []oaParam{
				{Name: "labelSelector", In: "query", Type: "string", Desc: "e.g. team=data"},
				{Name: "limit", In: "query", Type: "integer", Desc: "page size"},
				{Name: "continue", In: "query", Type: "string", Desc: "token of the next page"},
			},
			Responses: errs(map[string]string{"200": "NotifierList"})},
		{Method: "POST", Path: "/api/v1/notifiers", Tag: "notifiers", Summary: "Create a Notifier (JSON, or YAML with Content-Type: application/yaml)",
			Params: []oaParam{pDryRun}, Body: "Notifier", Responses: errs(map[string]string{"201": "Notifier"})},
		{Method: "GET", Path: "/api/v1/notifiers/{name}", Tag: "notifiers", Summary: "Read one Notifier (linearizable: served by the leader)",
			Params: []oaParam{pNotifier}, Responses: errs(map[string]string{"200": "Notifier"})},
		{Method: "PUT", Path: "/api/v1/notifiers/{name}", Tag: "notifiers", Summary: "Apply a Notifier: create, replace its labels, annotations and spec (keeping its counts), or leave it unchanged (header Sprint-Apply-Result)",
			Params: []oaParam{pNotifier, pDryRun}, Body: "Notifier", Responses: errs(map[string]string{"200": "Notifier (configured or unchanged)", "201": "Notifier (created)"})},
		{Method: "DELETE", Path: "/api/v1/notifiers/{name}", Tag: "notifiers", Summary: "Delete a Notifier; its undelivered notifications are dropped",
			Params:    []oaParam{pNotifier, {Name: "resourceVersion", In: "query", Type: "string", Desc: "precondition"}},
			Responses: errs(map[string]string{"200": "Notifier (deleted)"})},
		{Method: "GET", Path: "/api/v1/cluster", Tag: "cluster", Summary: "Raft members, leader, term and indexes as this node sees them",
			Responses: errs(map[string]string{"200": "ClusterInfo"})},
		{Method: "GET", Path: "/api/v1/policy", Tag: "cluster", Summary: "The admission policy in force: the leader's (forwarded), or this node's with local=true",
			Params:    []oaParam{{Name: "local", In: "query", Type: "boolean", Desc: "answer with this node's policy instead of forwarding to the leader"}},
			Responses: errs(map[string]string{"200": "AdmissionPolicy"})},
		{Method: "GET", Path: "/api/v1/cluster/mesos", Tag: "cluster", Summary: "The Mesos connection, framework and agents with their free resources, as the leader knows them",
			Responses: errs(map[string]string{"200": "MesosState"})},
		{Method: "POST", Path: "/api/v1/cluster/members", Tag: "cluster", Summary: "Add a member",
			Body: "JoinRequest", Responses: errs(map[string]string{"201": "Member"})},
		{Method: "DELETE", Path: "/api/v1/cluster/members/{id}", Tag: "cluster", Summary: "Remove a member",
			Params:    []oaParam{{Name: "id", In: "path", Type: "string", Required: true, Desc: "node id"}},
			Responses: errs(map[string]string{"200": "Status"})},

		{Method: "POST", Path: "/v1/runs", Tag: "sprint", Summary: "Sprint: submit a ContainerRunDefinition",
			Body: "ContainerRunDefinition", Responses: errs(map[string]string{"201": "SprintRun"})},
		{Method: "GET", Path: "/v1/runs", Tag: "sprint", Summary: "Sprint: list runs",
			Params: []oaParam{
				{Name: "includeFinished", In: "query", Type: "boolean", Desc: "include finished runs"},
				{Name: "labels", In: "query", Type: "string", Desc: "k:v,k2:v2"},
			},
			Responses: errs(map[string]string{"200": "array of SprintRun"})},
		{Method: "GET", Path: "/v1/runs/{id}", Tag: "sprint", Summary: "Sprint: one run",
			Params: []oaParam{pID}, Responses: errs(map[string]string{"200": "SprintRun"})},
		{Method: "DELETE", Path: "/v1/runs/{id}", Tag: "sprint", Summary: "Sprint: kill a run (the record is kept)",
			Params: []oaParam{pID}, Responses: errs(map[string]string{"200": "SprintRun"})},
		{Method: "GET", Path: "/status", Tag: "sprint", Summary: "Sprint: this node's status",
			Responses: map[string]string{"200": "node status"}},
		{Method: "GET", Path: "/status/ping", Tag: "sprint", Summary: "Sprint: liveness, answers pong",
			Responses: map[string]string{"200": "pong"}},
		{Method: "GET", Path: "/status/leading", Tag: "sprint", Summary: "Sprint: 200 on the leader, 503 elsewhere",
			Responses: map[string]string{"200": "leading", "503": "not leading"}},

		{Method: "GET", Path: "/healthz", Tag: "operations", Summary: "Liveness", Responses: map[string]string{"200": "ok"}},
		{Method: "GET", Path: "/readyz", Tag: "operations", Summary: "Readiness: a leader is known and the committed log applied",
			Responses: map[string]string{"200": "ok", "503": "Status"}},
		{Method: "GET", Path: "/version", Tag: "operations", Summary: "Server version", Responses: map[string]string{"200": "VersionInfo"}},
		{Method: "GET", Path: "/metrics", Tag: "operations", Summary: "Prometheus metrics", Responses: map[string]string{"200": "text exposition format"}},
		{Method: "GET", Path: "/docs", Tag: "operations", Summary: "This API as a readable page", Responses: map[string]string{"200": "HTML"}},
		{Method: "GET", Path: "/openapi.json", Tag: "operations", Summary: "This OpenAPI document", Responses: map[string]string{"200": "OpenAPI 3"}},
		{Method: "GET", Path: "/schemas/run.json", Tag: "operations", Summary: "JSON Schema of a Run", Responses: map[string]string{"200": "JSON Schema"}},
		{Method: "GET", Path: "/schemas/schedule.json", Tag: "operations", Summary: "JSON Schema of a Schedule", Responses: map[string]string{"200": "JSON Schema"}},
		{Method: "GET", Path: "/schemas/notifier.json", Tag: "operations", Summary: "JSON Schema of a Notifier", Responses: map[string]string{"200": "JSON Schema"}},

		{Method: "GET", Path: "/", Tag: "console", Summary: "Redirects to the web console", Responses: map[string]string{"302": "to /ui/"}},
		{Method: "GET", Path: "/ui", Tag: "console", Summary: "Redirects to /ui/", Responses: map[string]string{"301": "to /ui/"}},
		{Method: "GET", Path: "/favicon.ico", Tag: "console", Summary: "Redirects to the console's icon", Responses: map[string]string{"301": "to /ui/favicon.svg"}},
		{Method: "GET", Path: "/ui/{path}", Tag: "console", Summary: "The web console's static assets (no token needed; its API calls carry one)",
			Params:    []oaParam{{Name: "path", In: "path", Type: "string", Required: true, Desc: "asset path; empty for the page"}},
			Responses: map[string]string{"200": "HTML, JavaScript or CSS", "404": "no such asset"}},
	}
}

// schemaRefs maps response and body names to component schemas.
var schemaRefs = map[string]string{
	"Run": "Run", "RunList": "RunList", "Status": "Status", "ClusterInfo": "ClusterInfo",
	"Member": "Member", "JoinRequest": "JoinRequest", "SprintRun": "SprintRun",
	"ContainerRunDefinition": "ContainerRunDefinition", "RunEventList": "RunEventList",
	"VersionInfo": "VersionInfo", "AdmissionPolicy": "AdmissionPolicy", "MesosState": "MesosState",
	"RunApplyList": "RunApplyList", "RunDependents": "RunDependents",
	"Schedule": "Schedule", "ScheduleList": "ScheduleList", "Notifier": "Notifier", "NotifierList": "NotifierList",
}

// openAPIDoc builds the document; version is the server's.
func openAPIDoc(version string) map[string]any {
	paths := map[string]map[string]any{}
	for _, op := range openAPIOps() {
		params := []map[string]any{}
		for _, p := range op.Params {
			params = append(params, map[string]any{
				"name": p.Name, "in": p.In, "description": p.Desc, "required": p.Required,
				"schema": map[string]string{"type": p.Type},
			})
		}
		responses := map[string]any{}
		for code, what := range op.Responses {
			r := map[string]any{"description": what}
			if ref, ok := schemaRefs[strings.Fields(what)[0]]; ok {
				r["content"] = map[string]any{"application/json": map[string]any{
					"schema": map[string]string{"$ref": "#/components/schemas/" + ref},
				}}
			}
			responses[code] = r
		}
		o := map[string]any{
			"summary":     op.Summary,
			"operationId": operationID(op.Method, op.Path),
			"tags":        []string{op.Tag},
			"parameters":  params,
			"responses":   responses,
		}
		if op.Body != "" {
			ref := map[string]string{"$ref": "#/components/schemas/" + op.Body}
			content := map[string]any{"application/json": map[string]any{"schema": ref}}
			if op.Body == "Run" || op.Body == "RunList" || op.Body == "Schedule" || op.Body == "Notifier" {
				content["application/yaml"] = map[string]any{"schema": ref}
			}
			o["requestBody"] = map[string]any{"required": true, "content": content}
		}
		if paths[op.Path] == nil {
			paths[op.Path] = map[string]any{}
		}
		paths[op.Path][strings.ToLower(op.Method)] = o
	}
	obj := func(props ...string) map[string]any {
		p := map[string]any{}
		for _, name := range props {
			p[name] = map[string]any{}
		}
		return map[string]any{"type": "object", "properties": p}
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "sprint API",
			"version":     version,
			"description": "Runs one-off tasks on Apache Mesos. The full Run schema is at /schemas/run.json; /docs explains the API.",
		},
		"servers":  []map[string]string{{"url": "/"}},
		"paths":    paths,
		"security": []map[string][]string{{"bearer": {}}},
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]string{"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{
				"Run":                    map[string]any{"description": "A Run; see /schemas/run.json", "type": "object"},
				"RunList":                obj("apiVersion", "kind", "metadata", "items"),
				"Schedule":               map[string]any{"description": "A Schedule; see /schemas/schedule.json", "type": "object"},
				"ScheduleList":           obj("apiVersion", "kind", "metadata", "items"),
				"Notifier":               map[string]any{"description": "A Notifier; see /schemas/notifier.json", "type": "object"},
				"NotifierList":           obj("apiVersion", "kind", "metadata", "items"),
				"RunApplyList":           obj("apiVersion", "kind", "items"),
				"Status":                 obj("kind", "apiVersion", "status", "code", "reason", "message", "details"),
				"ClusterInfo":            obj("nodeID", "leader", "leaderAddr", "state", "term", "commitIndex", "appliedIndex", "lastIndex", "members", "rejectedEntries", "lastRejectedEntry"),
				"Member":                 obj("id", "raftAddr", "httpAddr", "suffrage", "leader", "storeLevel"),
				"JoinRequest":            obj("id", "raftAddr", "httpAddr", "storeLevel"),
				"SprintRun":              obj("id", "lastModified", "state", "definition", "network"),
				"ContainerRunDefinition": obj("cmd", "args", "container", "cpus", "mem", "env", "labels", "constraints"),
				"RunEventList":           obj("apiVersion", "kind", "items"),
				"RunDependents": map[string]any{
					"description": "A Run and the Runs downstream of it. Each node: name, phase, reason, condition (what it waits for of its parent), repeated (listed earlier in the tree, dependents there), dependents (its own nodes). truncated: more than 1000 nodes.",
					"type":        "object",
					"properties": map[string]any{
						"apiVersion": map[string]any{}, "kind": map[string]any{}, "truncated": map[string]any{"type": "boolean"},
						"name": map[string]any{"type": "string"}, "phase": map[string]any{"type": "string"}, "reason": map[string]any{"type": "string"},
						"dependents": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/DependentNode"}},
					},
				},
				"DependentNode": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"name": map[string]any{"type": "string"}, "phase": map[string]any{"type": "string"}, "reason": map[string]any{"type": "string"},
						"condition":  map[string]any{"type": "string", "enum": []string{"Succeeded", "Failed", "Completed"}},
						"repeated":   map[string]any{"type": "boolean"},
						"dependents": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/DependentNode"}},
					},
				},
				"VersionInfo":     obj("version", "nodeID"),
				"AdmissionPolicy": obj("apiVersion", "kind", "nodeID", "leader", "allowedHostPaths", "allowPrivileged", "allowedURISchemes", "notifierSecretDir", "notifierDenyCIDRs"),
				"MesosState":      obj("nodeID", "connected", "frameworkID", "frameworkName", "role", "masters", "embedded", "agents", "agentsError"),
			},
		},
	}
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.Split(path, "/") {
		part = strings.Trim(part, "{}")
		part = strings.NewReplacer(".", "", "-", "").Replace(part)
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func (s *Server) openAPI(c echo.Context) error {
	b, err := json.MarshalIndent(openAPIDoc(s.cfg.Version), "", "  ")
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}
