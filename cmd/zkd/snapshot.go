package main

import (
	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/snapshot"
)

// snapshotCmd is "zkd snapshot": tools for snapshot files, which are
// byte-compatible with Apache ZooKeeper's.
func snapshotCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Inspect snapshot files (zkd's or Apache ZooKeeper's)",
	}
	var asJSON, withData bool
	var maxBuffer int
	dump := &cobra.Command{
		Use:   "dump [--json] [--data] FILE",
		Short: "Print a snapshot like ZooKeeper's SnapshotFormatter",
		Long: "Print every node of a snapshot with its stat, then the sessions with their\n" +
			"timeouts and ephemeral counts, as org.apache.zookeeper.server.SnapshotFormatter\n" +
			"does. The whole file is verified (magic, both checksums) first; a corrupt\n" +
			"file prints nothing and exits non-zero naming the byte offset.\n" +
			"--json prints one JSON document (sessions, ACL map, nodes with data as\n" +
			"base64 and, when printable, as a string); --data prints the data in the\n" +
			"text format.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return snapshot.Dump(cmd.OutOrStdout(), args[0], snapshot.DumpOptions{
				JSON: asJSON, Data: withData, Max: maxBuffer,
			})
		},
	}
	dump.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	dump.Flags().BoolVar(&withData, "data", false, "print node data (base64) instead of its length")
	dump.Flags().IntVar(&maxBuffer, "max-buffer", 0,
		"refuse buffers and strings longer than this (like jute.maxbuffer); 0 = only the file size bounds them")
	cmd.AddCommand(dump)
	return cmd
}
