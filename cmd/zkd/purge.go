package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/storage"
)

// purgeCmd is PurgeTxnLog / zkCleanup.sh: keep the newest N snapshots and
// the logs needed to replay from them.
func purgeCmd() *cobra.Command {
	var cfgPath, dataDir, dataLogDir string
	var count int
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Delete old snapshots and transaction logs, keeping the newest N snapshots",
		Long: "Delete old snapshots and the transaction logs they need, keeping the newest\n" +
			"-n snapshots (at least 3), like ZooKeeper's PurgeTxnLog. Give --config, or\n" +
			"--dataDir (and --dataLogDir when the logs live elsewhere).",
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfgPath != "" {
				cfg, err := config.Load(cfgPath)
				if err != nil {
					return err
				}
				dataDir, dataLogDir = cfg.DataDir, cfg.DataLogDir
			}
			if dataDir == "" {
				return fmt.Errorf("purge: give --config or --dataDir")
			}
			if dataLogDir == "" {
				dataLogDir = dataDir
			}
			res, err := storage.Purge(filepath.Join(dataDir, "version-2"), filepath.Join(dataLogDir, "version-2"), count)
			if err != nil {
				return err
			}
			for _, f := range res.Snapshots {
				fmt.Fprintln(cmd.OutOrStdout(), "removed", f)
			}
			for _, f := range res.Logs {
				fmt.Fprintln(cmd.OutOrStdout(), "removed", f)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "zoo.cfg to take dataDir and dataLogDir from")
	cmd.Flags().StringVar(&dataDir, "dataDir", "", "snapshot directory (the parent of version-2)")
	cmd.Flags().StringVar(&dataLogDir, "dataLogDir", "", "transaction log directory (default dataDir)")
	cmd.Flags().IntVarP(&count, "count", "n", storage.MinRetain, "snapshots to keep (at least 3)")
	return cmd
}
