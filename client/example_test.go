package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// Apply a Run, wait for it to succeed and print its output.
func Example() {
	c, err := client.New(os.Getenv("SPRINT_SERVER"), os.Getenv("SPRINT_TOKEN"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := &apis.Run{
		Metadata: apis.ObjectMeta{Name: "hello"},
		Spec:     apis.RunSpec{Command: "echo hello", Cpus: 0.1, Mem: 32},
	}
	_, result, err := c.Apply(ctx, run, client.ApplyOptions{})
	if err != nil {
		log.Fatal(err) // a *apis.Status for the server's refusals
	}
	fmt.Println("run.sprint/hello", result)
	if _, err := c.Wait(ctx, "hello", client.PhaseIs(apis.PhaseSucceeded)); err != nil {
		log.Fatal(err)
	}
	if err := c.Logs(ctx, "hello", client.LogOptions{}, os.Stdout); err != nil {
		log.Fatal(err)
	}
}
