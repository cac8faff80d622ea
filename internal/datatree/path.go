package datatree

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrInvalidPath is wrapped by ValidatePath errors.
var ErrInvalidPath = errors.New("invalid path")

// ValidatePath applies ZooKeeper's PathUtils.validatePath rules: absolute,
// no trailing slash (except the root), no empty, "." or ".." segments, and
// none of the characters Java's validator refuses.
func ValidatePath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrInvalidPath)
	}
	if p[0] != '/' {
		return fmt.Errorf("%w: %q does not start with /", ErrInvalidPath, p)
	}
	if len(p) == 1 {
		return nil
	}
	if p[len(p)-1] == '/' {
		return fmt.Errorf("%w: %q ends with /", ErrInvalidPath, p)
	}
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			seg := p[segStart:i]
			switch seg {
			case "":
				return fmt.Errorf("%w: empty node name in %q", ErrInvalidPath, p)
			case ".", "..":
				return fmt.Errorf("%w: relative segment in %q", ErrInvalidPath, p)
			}
			segStart = i + 1
		}
	}
	for i, r := range p {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(p[i:]); size == 1 {
				return fmt.Errorf("%w: invalid UTF-8 in %q", ErrInvalidPath, p)
			}
		}
		if badRune(r) {
			return fmt.Errorf("%w: invalid character %U in %q", ErrInvalidPath, r, p)
		}
	}
	return nil
}

func badRune(r rune) bool {
	switch {
	case r == 0:
		return true
	case r > 0 && r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0 && r <= 0xffff:
		return true
	case r > 0xffff:
		// Java holds these as surrogate pairs, which the validator refuses.
		return true
	}
	return false
}
