// Package client is the typed Go SDK of sprint's native API: apply, create,
// get, list, watch, delete, kill, logs and wait on Runs; apply, create, get,
// list, watch, delete (with or without its Runs), suspend, fire now and
// events of Schedules; apply, create, get, list and delete of Notifiers; and
// cluster membership. What every kind shares (encode, create, apply, watch)
// is written once, over a kind descriptor, in client.go. sprintctl is built
// on it; other programs import it the same way.
//
// Errors the server reports come back as *apis.Status (use errors.As, or
// IsNotFound and friends); transport errors are wrapped with the request.
//
//	c, err := client.New("http://127.0.0.1:9090", os.Getenv("SPRINT_TOKEN"))
//	run, result, err := c.Apply(ctx, run, client.ApplyOptions{})
//	run, err = c.Wait(ctx, run.Metadata.Name, client.PhaseIs(apis.PhaseSucceeded))
package client
