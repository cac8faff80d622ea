// Command zkd is a ZooKeeper-compatible coordination server.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "zkd",
		Short:         "zkd: a ZooKeeper-compatible coordination server",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serverCmd(), versionCmd(), txnlogCmd(), snapshotCmd(), purgeCmd(), fourlwCmd(), cliCmd(), benchCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "zkd:", err)
		os.Exit(1)
	}
}
