package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// fourlwCmd sends a four-letter word (wire.md §16) and prints the reply,
// like `echo ruok | nc host port`.
func fourlwCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "4lw HOST:PORT CMD [MASK]",
		Short: "Send a four-letter word (ruok, srvr, mntr, ...) and print the reply",
		Long: "Send a four-letter word to a ZooKeeper or zkd server and print its reply.\n" +
			"stmk takes the new trace mask (decimal) as a third argument.",
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			word := args[1]
			if len(word) != 4 {
				return fmt.Errorf("4lw: %q is not a four-letter word", word)
			}
			msg := []byte(word)
			if word == "stmk" {
				if len(args) != 3 {
					return fmt.Errorf("4lw: stmk needs the trace mask")
				}
				m, err := strconv.ParseInt(args[2], 10, 64)
				if err != nil {
					return fmt.Errorf("4lw: trace mask: %w", err)
				}
				msg = binary.BigEndian.AppendUint64(msg, uint64(m))
			} else if len(args) == 3 {
				return fmt.Errorf("4lw: only stmk takes an argument")
			}
			reply, err := fourLetterWord(args[0], msg, timeout)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(reply)
			return err
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "connect and read timeout")
	return cmd
}

func fourLetterWord(addr string, msg []byte, timeout time.Duration) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("4lw: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(msg); err != nil {
		return nil, fmt.Errorf("4lw: send: %w", err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return b, fmt.Errorf("4lw: read: %w", err)
	}
	return b, nil
}
