package config

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// property is one key/value pair of a .properties file. Line is the
// 1-based number of the physical line the logical line starts on.
type property struct {
	Key   string
	Value string
	Line  int
}

// isPropSpace reports the characters java.util.Properties treats as
// whitespace between and around keys and values.
func isPropSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// physicalLines splits text at \n, \r and \r\n, the line terminators of
// java.util.Properties. A terminator at the very end does not produce an
// extra empty line.
func physicalLines(text string) []string {
	var lines []string
	for len(text) > 0 {
		i := strings.IndexAny(text, "\r\n")
		if i < 0 {
			lines = append(lines, text)
			break
		}
		lines = append(lines, text[:i])
		if text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
			i++
		}
		text = text[i+1:]
	}
	return lines
}

// continues reports whether a physical line ends with an odd number of
// backslashes, i.e. continues on the next line.
func continues(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// parseProperties decodes text in java.util.Properties syntax and returns
// the pairs in file order, duplicates included. Keys and values are
// returned unescaped but not trimmed beyond what the syntax itself strips.
// Unlike Properties.load(InputStream), which reads ISO-8859-1, the text is
// taken as UTF-8.
func parseProperties(text string) ([]property, error) {
	lines := physicalLines(text)
	var out []property
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		var b strings.Builder
		for continues(line) {
			b.WriteString(line[:len(line)-1])
			if i+1 >= len(lines) {
				line = "" // a continuation at end of input is dropped
				break
			}
			i++
			line = strings.TrimLeft(lines[i], " \t\f")
		}
		b.WriteString(line)
		p, err := splitKeyValue(b.String())
		if err != nil {
			return nil, &Error{Line: start, Err: err}
		}
		p.Line = start
		out = append(out, p)
	}
	return out, nil
}

// splitKeyValue splits one logical line (leading whitespace removed) into
// its unescaped key and value. The key ends at the first unescaped '=',
// ':' or whitespace; whitespace and at most one '=' or ':' then separate it
// from the value.
func splitKeyValue(logical string) (property, error) {
	keyEnd := len(logical)
	valStart := len(logical)
	escaped := false
	sawSep := false
	for i := 0; i < len(logical); i++ {
		c := logical[i]
		if escaped {
			escaped = false
			continue
		}
		if c == '\\' {
			escaped = true
			continue
		}
		if c == '=' || c == ':' {
			keyEnd, valStart, sawSep = i, i+1, true
			break
		}
		if isPropSpace(c) {
			keyEnd, valStart = i, i+1
			break
		}
	}
	for valStart < len(logical) && isPropSpace(logical[valStart]) {
		valStart++
	}
	if !sawSep && valStart < len(logical) && (logical[valStart] == '=' || logical[valStart] == ':') {
		valStart++
		for valStart < len(logical) && isPropSpace(logical[valStart]) {
			valStart++
		}
	}
	key, err := unescape(logical[:keyEnd])
	if err != nil {
		return property{}, fmt.Errorf("key: %w", err)
	}
	val, err := unescape(logical[valStart:])
	if err != nil {
		return property{}, fmt.Errorf("value of %q: %w", key, err)
	}
	return property{Key: key, Value: val}, nil
}

// unescape applies the .properties escapes: \t \n \r \f, \uXXXX and
// \<any> meaning the character itself. A trailing lone backslash is
// dropped.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("malformed \\uxxxx escape %q", s[i-1:])
			}
			r, ok := hex4(s[i+1 : i+5])
			if !ok {
				return "", fmt.Errorf("malformed \\uxxxx escape %q", s[i-1:i+5])
			}
			i += 4
			// Java strings are UTF-16: a surrogate pair written as two
			// escapes is one character.
			if utf16.IsSurrogate(r) && i+7 <= len(s) && strings.HasPrefix(s[i+1:], `\u`) {
				if lo, ok := hex4(s[i+3 : i+7]); ok {
					if pair := utf16.DecodeRune(r, lo); pair != utf8.RuneError {
						r = pair
						i += 6
					}
				}
			}
			if !utf8.ValidRune(r) {
				r = utf8.RuneError // unpaired surrogate half
			}
			b.WriteRune(r)
		default:
			// Copy the whole (possibly multi-byte) character that follows.
			_, size := utf8.DecodeRuneInString(s[i:])
			b.WriteString(s[i : i+size])
			i += size - 1
		}
	}
	return b.String(), nil
}

// hex4 decodes exactly four hexadecimal digits.
func hex4(s string) (rune, bool) {
	var r rune
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, len(s) == 4
}
