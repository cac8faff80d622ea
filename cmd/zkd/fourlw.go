package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/config"
)

// fourlwCmd sends a four-letter word (wire.md §16) and prints the reply,
// like `echo ruok | nc host port`.
func fourlwCmd() *cobra.Command {
	var timeout time.Duration
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "4lw {HOST:PORT | --config ZOO.CFG} CMD [MASK]",
		Short: "Send a four-letter word (ruok, srvr, mntr, ...) and print the reply",
		Long: "Send a four-letter word to a ZooKeeper or zkd server and print its reply.\n" +
			"stmk takes the new trace mask (decimal) as a third argument.\n" +
			"With --config the address is the zoo.cfg's clientPortAddress:clientPort\n" +
			"(loopback when it binds all interfaces) and HOST:PORT is left out:\n" +
			"the container image's HEALTHCHECK uses it, so a mounted zoo.cfg with\n" +
			"another clientPort is checked on the port it serves.\n" +
			"The exit status is 1 when the server refuses the word (not in its\n" +
			"4lw.commands.whitelist), after printing its reply.",
		Args: func(cmd *cobra.Command, args []string) error {
			if cfgPath != "" {
				return cobra.RangeArgs(1, 2)(cmd, args)
			}
			return cobra.RangeArgs(2, 3)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var addr string
			if cfgPath != "" {
				var err error
				if addr, err = clientAddrFromConfig(cfgPath); err != nil {
					return fmt.Errorf("4lw: %w", err)
				}
			} else {
				addr, args = args[0], args[1:]
			}
			word := args[0]
			if len(word) != 4 {
				return fmt.Errorf("4lw: %q is not a four-letter word", word)
			}
			msg := []byte(word)
			if word == "stmk" {
				if len(args) != 2 {
					return fmt.Errorf("4lw: stmk needs the trace mask")
				}
				m, err := strconv.ParseInt(args[1], 10, 64)
				if err != nil {
					return fmt.Errorf("4lw: trace mask: %w", err)
				}
				msg = binary.BigEndian.AppendUint64(msg, uint64(m))
			} else if len(args) == 2 {
				return fmt.Errorf("4lw: only stmk takes an argument")
			}
			cmd.SilenceUsage = true // errors from here on are about the server
			reply, err := fourLetterWord(addr, msg, timeout)
			if err != nil {
				return err
			}
			if _, err = cmd.OutOrStdout().Write(reply); err != nil {
				return err
			}
			// A refused word must not look like an answer: the container's
			// HEALTHCHECK would call a server healthy that never said imok.
			if string(reply) == word+notWhitelisted {
				return fmt.Errorf("4lw: the server did not run %s: add it to 4lw.commands.whitelist", word)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "connect and read timeout")
	cmd.Flags().StringVar(&cfgPath, "config", "", "take the address from this zoo.cfg (clientPortAddress, clientPort) instead of HOST:PORT")
	return cmd
}

// clientAddrFromConfig is the address `zkd server --config path` serves
// clients on, as a client on the same host dials it: an unset or wildcard
// clientPortAddress becomes loopback.
func clientAddrFromConfig(path string) (string, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return "", err
	}
	if cfg.ClientPort == 0 {
		return "", fmt.Errorf("clientPort is not set in %s", path)
	}
	host := cfg.ClientPortAddress
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(cfg.ClientPort)), nil
}

// notWhitelisted ends the reply of a server (ZooKeeper or zkd) to a word
// its 4lw.commands.whitelist leaves out.
const notWhitelisted = " is not executed because it is not in the whitelist.\n"

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
