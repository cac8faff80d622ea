package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chzyer/readline"
	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/cli"
)

const cliUsage = `usage: zkd cli [-server host:port[,host:port...]] [-timeout ms] [cmd args...]

Without a command, reads commands from stdin, interactively (line editing,
history, TAB completion) when stdin is a terminal. Options take one or two
dashes, as zkCli.sh's do.
`

// cliCmd is "zkd cli", a zkCli.sh-compatible shell. Flags are parsed by
// hand: zkCli.sh spells them with a single dash (-server), which pflag would
// read as a bundle of short flags.
func cliCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "cli [-server host:port] [-timeout ms] [cmd args...]",
		Short:              "ZooKeeper shell compatible with zkCli.sh",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			code := runCli(args, os.Stdin, os.Stdout, os.Stderr)
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}

type cliArgs struct {
	server  string
	timeout time.Duration
	command []string
	help    bool
}

func parseCliArgs(args []string) (cliArgs, error) {
	a := cliArgs{server: "localhost:2181", timeout: 30 * time.Second}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") {
			a.command = args[i:]
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		needVal := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs a value", arg)
			}
			i++
			return args[i], nil
		}
		switch name {
		case "server":
			v, err := needVal()
			if err != nil {
				return a, err
			}
			a.server = v
		case "timeout":
			v, err := needVal()
			if err != nil {
				return a, err
			}
			ms, err := strconv.Atoi(v)
			if err != nil || ms <= 0 {
				return a, fmt.Errorf("bad -timeout %q: want milliseconds", v)
			}
			a.timeout = time.Duration(ms) * time.Millisecond
		case "client-configuration":
			if _, err := needVal(); err != nil {
				return a, err
			}
		case "r", "waitforconnection":
			// read-only mode and wait-for-connection: the shell always
			// waits for its session; accepted for compatibility.
		case "h", "help":
			a.help = true
		default:
			return a, fmt.Errorf("unknown option %s", arg)
		}
	}
	return a, nil
}

// runCli runs the shell and returns the process exit code.
func runCli(args []string, stdin io.ReadCloser, stdout, stderr io.Writer) int {
	a, err := parseCliArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "zkd cli: %v\n%s", err, cliUsage)
		return 2
	}
	if a.help {
		fmt.Fprint(stdout, cliUsage)
		return 0
	}
	sh := cli.New(cli.Options{Server: a.server, Timeout: a.timeout, Out: stdout, Err: stderr})
	interactive := len(a.command) == 0 && isTerminal(stdin)
	if interactive {
		fmt.Fprintf(stdout, "Connecting to %s\n", a.server)
	}
	if err := sh.Connect(""); err != nil {
		fmt.Fprintf(stderr, "zkd cli: %v\n", err)
		return 1
	}
	defer sh.Close()
	switch {
	case len(a.command) > 0:
		if err := sh.Exec(strings.Join(quoteArgs(a.command), " ")); err != nil {
			return 1
		}
		return 0
	case interactive:
		fmt.Fprintf(stdout, "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n")
		hist := ""
		if home, err := os.UserHomeDir(); err == nil {
			hist = filepath.Join(home, ".zkd_cli_history")
		}
		if err := sh.Interactive(stdin, stdout, hist); err != nil {
			fmt.Fprintf(stderr, "zkd cli: %v\n", err)
			return 1
		}
		return 0
	default:
		if err := sh.RunScript(stdin); err != nil {
			return 1
		}
		return 0
	}
}

// quoteArgs re-quotes arguments that contain blanks, so that joining them
// into one command line and splitting it again gives them back.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case a == "" || strings.ContainsAny(a, " \t") && !strings.Contains(a, `"`):
			out[i] = `"` + a + `"`
		case strings.ContainsAny(a, " \t"):
			out[i] = `'` + a + `'`
		default:
			out[i] = a
		}
	}
	return out
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && readline.IsTerminal(int(f.Fd()))
}
