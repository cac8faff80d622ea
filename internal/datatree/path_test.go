package datatree

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestValidatePathFollowsPathUtils checks the rules of wire.md §13
// (PathUtils.validatePath), which writes use to answer BadArguments.
func TestValidatePathFollowsPathUtils(t *testing.T) {
	valid := []struct{ name, path string }{
		{"the root alone is valid", "/"},
		{"a top-level node is valid", "/a"},
		{"a nested node is valid", "/a/b/c"},
		{"spaces are ordinary characters", "/a b"},
		{"a dot inside a name is fine", "/a.b"},
		{"a name starting with a dot is fine", "/.a"},
		{"three dots are a name, not a relative segment", "/..."},
		{"a name starting with two dots is fine", "/a/..b"},
		{"Latin-1 letters are fine", "/caf\u00e9"},
		{"U+00A0, just past the C1 controls, is fine", "/a\u00a0"},
		{"BMP CJK characters are fine", "/\u65e5\u672c"},
		{"U+D7FF, just below the surrogates, is fine", "/\ud7ff"},
		{"U+F900, just past the private-use area, is fine", "/\uf900"},
		{"U+FFEF, just below the specials, is fine", "/\uffef"},
		{"a sequential suffix is fine", "/lock-0000000001"},
		{"a node under /zookeeper is fine", "/zookeeper/quota"},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, ValidatePath(tc.path))
		})
	}

	invalid := []struct{ name, path string }{
		{"the empty path is refused", ""},
		{"a relative path is refused", "a"},
		{"a relative path with a slash is refused", "a/b"},
		{"a trailing slash is refused", "/a/"},
		{"a double slash at the start is refused", "//"},
		{"an empty segment is refused", "/a//b"},
		{"a lone dot segment is refused", "/."},
		{"a lone dot-dot segment is refused", "/.."},
		{"a trailing dot segment is refused", "/a/."},
		{"a dot segment in the middle is refused", "/a/./b"},
		{"a dot-dot segment in the middle is refused", "/a/../b"},
		{"U+0000 is refused", "/a\x00b"},
		{"U+0001 is refused", "/a\x01"},
		{"U+001F is refused", "/a\x1f"},
		{"DEL U+007F is refused", "/a\x7f"},
		{"U+0080 is refused", "/a\u0080"},
		{"U+009F is refused", "/a\u009f"},
		{"a private-use character U+E000 is refused", "/\ue000"},
		{"U+F8FF, the end of the private-use area, is refused", "/\uf8ff"},
		{"U+FFF0 is refused", "/\ufff0"},
		{"U+FFFD is refused", "/\ufffd"},
		{"U+FFFF is refused", "/\uffff"},
		{"a non-BMP character (a surrogate pair in Java) is refused", "/\U0001F600"},
		{"an encoded surrogate (CESU-8) is refused", "/\xed\xa0\x80"},
		{"a byte that is not UTF-8 is refused", "/a\xff"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, ValidatePath(tc.path), ErrInvalidPath)
		})
	}
}
