package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sprint-project/sprint/client"
)

func (a *app) clusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster status|join|remove",
		Short: "Show and change the sprint cluster's Raft members",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show the leader, term, indexes and members",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			info, err := c.Cluster(cmd.Context())
			if err != nil {
				return err
			}
			top := kv{w: a.stdout}
			top.line("Node", info.NodeID+" ("+orNone(info.State)+")")
			top.line("Leader", strings.TrimSpace(orNone(info.Leader)+" "+info.LeaderAddr))
			top.line("Term", strconv.FormatUint(info.Term, 10))
			top.line("Commit Index", strconv.FormatUint(info.CommitIndex, 10))
			top.line("Applied Index", strconv.FormatUint(info.AppliedIndex, 10))
			rejected := strconv.FormatUint(info.RejectedEntries, 10)
			if r := info.LastRejectedEntry; r != nil {
				rejected += fmt.Sprintf(" (last: index %d, %s, %s: %s)", r.Index, r.Type, r.Reason, r.Message)
			}
			top.line("Rejected Entries", rejected)
			rows := make([][]string, len(info.Members))
			for i, m := range info.Members {
				leader := ""
				if m.Leader || m.ID == info.Leader {
					leader = "*"
				}
				level := "<none>" // a binary older than store levels
				if m.StoreLevel > 0 {
					level = strconv.Itoa(m.StoreLevel)
				}
				rows[i] = []string{m.ID, m.Suffrage, m.RaftAddr, orNone(m.HTTPAddr), level, leader}
			}
			fmt.Fprintln(a.stdout)
			// STORE LEVEL: which commands the member's binary knows; the
			// leader proposes a level's commands only once every member
			// has it (docs/raftstore.md, rolling upgrades).
			newTable(a.stdout, []string{"ID", "SUFFRAGE", "RAFT ADDRESS", "HTTP ADDRESS", "STORE LEVEL", "LEADER"}, rows)
			fmt.Fprintln(a.stdout)
			a.printPolicy(cmd.Context(), c)
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:     "join ID RAFT_ADDR [HTTP_URL]",
		Short:   "Add a node to the cluster as a voter",
		Example: "  sprintctl cluster join n4 10.0.0.4:9091 http://10.0.0.4:9090",
		Args:    cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			httpAddr := ""
			if len(args) == 3 {
				httpAddr = args[2]
			}
			if err := c.Join(cmd.Context(), args[0], args[1], httpAddr); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "member/%s joined\n", args[0])
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "remove ID",
		Short: "Remove a node from the cluster",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.Remove(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "member/%s removed\n", args[0])
			return nil
		},
	})
	return cmd
}

// printPolicy shows the admission policy in force, the leader's. It is a
// part of the status, not its point: when it cannot be read (no leader, a
// server without the endpoint) the status says so and still succeeds.
func (a *app) printPolicy(ctx context.Context, c *client.Client) {
	p, err := c.Policy(ctx, false)
	if err != nil {
		fmt.Fprintf(a.stdout, "Admission Policy:     unknown (%s)\n", errorLine(err))
		return
	}
	fmt.Fprintf(a.stdout, "Admission Policy:     enforced by leader %s\n", orNone(p.NodeID))
	in := kv{w: a.stdout, indent: "  "}
	hostPaths := make([]string, len(p.AllowedHostPaths))
	for i, h := range p.AllowedHostPaths {
		hostPaths[i] = h.String()
	}
	in.line("Host Paths", orNone(strings.Join(hostPaths, ", ")))
	privileged := "refused"
	if p.AllowPrivileged {
		privileged = "allowed"
	}
	in.line("Privileged", privileged)
	in.line("URI Schemes", orNone(strings.Join(p.AllowedURISchemes, ", ")))
	in.line("Notifier Secrets", orNone(p.NotifierSecretDir))
	denied := make([]string, len(p.NotifierDenyCIDRs))
	for i, d := range p.NotifierDenyCIDRs {
		denied[i] = d.String()
	}
	in.line("Notifier Denied", orNone(strings.Join(denied, ", ")))
}
