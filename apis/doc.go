// Package apis is sprint's domain package: the Run object (API version
// sprint/v1) with its spec, status, list and watch-event types, the API error
// Status, defaulting, validation with field paths, decoding of JSON and YAML
// manifests, label and field selectors, and the Sprint-compatible
// ContainerRunDefinition.
//
// It depends on the standard library and small encoding helpers only; every
// other sprint package imports it and it imports none of them.
package apis
