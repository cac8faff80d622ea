package cli

import (
	"bufio"
	"errors"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/chzyer/readline"
)

// RunScript runs one command per line from r (non-interactive mode, e.g.
// commands piped on stdin). It stops at quit and returns ErrCommand if any
// command failed.
func (s *Shell) RunScript(r io.Reader) error {
	var failed error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := s.Exec(line); err != nil {
			failed = err
		}
		if s.quit {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return failed
}

// Interactive runs the line-editing shell on the terminal given by in/out
// until quit or end of input. History lives in historyFile ("" for none).
func (s *Shell) Interactive(in io.ReadCloser, out io.Writer, historyFile string) error {
	rl, err := readline.NewEx(&readline.Config{
		Prompt:            s.Prompt(),
		HistoryFile:       historyFile,
		AutoComplete:      &completer{s: s},
		InterruptPrompt:   "^C",
		EOFPrompt:         "quit",
		HistorySearchFold: true,
		Stdin:             in,
		Stdout:            out,
		Stderr:            out,
	})
	if err != nil {
		return err
	}
	defer rl.Close()
	// Output (including asynchronous watch events) goes through readline so
	// the prompt is redrawn after it.
	s.mu.Lock()
	s.out, s.err = rl.Stdout(), rl.Stderr()
	s.mu.Unlock()
	for !s.quit {
		rl.SetPrompt(s.Prompt())
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			continue
		}
		if err != nil { // io.EOF
			break
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		_ = s.Exec(line)
	}
	s.Close()
	return nil
}

// completer completes command names in the first word and znode paths in
// later words, like zkCli's JLineZNodeCompleter.
type completer struct{ s *Shell }

func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	text := string(line[:pos])
	start := strings.LastIndexAny(text, " \t") + 1
	word := text[start:]
	var cands []string
	if strings.TrimSpace(text[:start]) == "" {
		for _, n := range CommandNames() {
			if strings.HasPrefix(n, word) {
				cands = append(cands, n[len(word):]+" ")
			}
		}
	} else if strings.HasPrefix(word, "/") {
		cands = c.paths(word)
	}
	out := make([][]rune, len(cands))
	for i, x := range cands {
		out[i] = []rune(x)
	}
	return out, len([]rune(word))
}

// paths returns the suffixes completing word to existing znode names.
func (c *completer) paths(word string) []string {
	conn := c.s.conn
	if conn == nil {
		return nil
	}
	dir, prefix := path.Split(word)
	parent := strings.TrimSuffix(dir, "/")
	if parent == "" {
		parent = "/"
	}
	children, _, err := conn.Children(parent, false)
	if err != nil {
		return nil
	}
	sort.Strings(children)
	var out []string
	for _, ch := range children {
		if strings.HasPrefix(ch, prefix) {
			out = append(out, ch[len(prefix):])
		}
	}
	return out
}
