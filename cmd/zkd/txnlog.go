package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/txnlog"
)

// txnlogCmd is `zkd txnlog`, tools for transaction log files.
func txnlogCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "txnlog",
		Short: "Inspect transaction log files (log.<zxid> in version-2)",
	}
	cmd.AddCommand(txnlogDumpCmd())
	return cmd
}

func txnlogDumpCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "dump [--json] FILE",
		Short: "Print every txn of one log file",
		Long: "Print every txn of one transaction log file (ZooKeeper 3.x format), one per line,\n" +
			"in the style of ZooKeeper's TxnLogToolkit, or as JSON objects with --json.\n" +
			"A torn tail (an incomplete last entry, normal after a crash) is reported on stderr;\n" +
			"corruption (a checksum mismatch) ends the dump with a non-zero exit status.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true // errors from here on are about the file
			it, err := txnlog.OpenFile(args[0], 0)
			if err != nil {
				return err
			}
			defer it.Close()
			out := cmd.OutOrStdout()
			n, err := txnlog.Dump(out, it, txnlog.DumpOptions{JSON: asJSON})
			if err != nil {
				return err
			}
			if t := it.TornTail(); t != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "zkd: %s (entries from there on are not part of the log)\n", t)
			}
			if !asJSON {
				fmt.Fprintf(out, "EOF reached after %d txns.\n", n)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per txn")
	return cmd
}
