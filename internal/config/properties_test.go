package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []property
	}{
		{"equals", "a=b", []property{{"a", "b", 1}}},
		{"equals with spaces", "  a =  b", []property{{"a", "b", 1}}},
		{"colon", "a:b", []property{{"a", "b", 1}}},
		{"colon with spaces", "a : b", []property{{"a", "b", 1}}},
		{"whitespace separator", "a b", []property{{"a", "b", 1}}},
		{"tab separator", "a\tb", []property{{"a", "b", 1}}},
		{"form feed separator", "a\fb", []property{{"a", "b", 1}}},
		{"whitespace then equals", "a =:b", []property{{"a", ":b", 1}}},
		{"second separator kept in value", "a=b=c", []property{{"a", "b=c", 1}}},
		{"colon in value", "server.1=zk1:2888:3888", []property{{"server.1", "zk1:2888:3888", 1}}},
		{"key only", "a", []property{{"a", "", 1}}},
		{"key and separator only", "a=", []property{{"a", "", 1}}},
		{"empty key", "=v", []property{{"", "v", 1}}},
		{"trailing spaces kept", "a=b  ", []property{{"a", "b  ", 1}}},
		{"hash comment", "# a=b\nc=d", []property{{"c", "d", 2}}},
		{"bang comment", "! a=b\nc=d", []property{{"c", "d", 2}}},
		{"indented comment", "   \t# a=b\nc=d", []property{{"c", "d", 2}}},
		{"hash inside value", "a=b # c", []property{{"a", "b # c", 1}}},
		{"blank lines", "\n\n  \na=b\n\n", []property{{"a", "b", 4}}},
		{"continuation", "a=b\\\n   c\nd=e", []property{{"a", "bc", 1}, {"d", "e", 3}}},
		{"continuation over several lines", "a=1,\\\n 2,\\\n\t3\nb=4", []property{{"a", "1,2,3", 1}, {"b", "4", 4}}},
		{"continuation line may start with hash", "a=b\\\n#c", []property{{"a", "b#c", 1}}},
		{"continuation into blank line ends value", "a=b\\\n\nc=d", []property{{"a", "b", 1}, {"c", "d", 3}}},
		{"continuation at end of input", "a=b\\", []property{{"a", "b", 1}}},
		{"escaped backslash is not continuation", "a=b\\\\\nc=d", []property{{"a", `b\`, 1}, {"c", "d", 2}}},
		{"continued key", "ke\\\n  y=v", []property{{"key", "v", 1}}},
		{"comment line ending in backslash", "# c\\\na=b", []property{{"a", "b", 2}}},
		{"CRLF", "a=b\r\nc=d\r\n", []property{{"a", "b", 1}, {"c", "d", 2}}},
		{"CR", "a=b\rc=d", []property{{"a", "b", 1}, {"c", "d", 2}}},
		{"CRLF continuation", "a=b\\\r\n  c", []property{{"a", "bc", 1}}},
		{"unicode escapes", `\u0041=\u00e9\u00E9`, []property{{"A", "éé", 1}}},
		{"surrogate pair", `a=\uD83D\uDE00`, []property{{"a", "😀", 1}}},
		{"lone surrogate", `a=\uD83Dx`, []property{{"a", "\uFFFDx", 1}}},
		{"control escapes", `a=\t\n\r\f`, []property{{"a", "\t\n\r\f", 1}}},
		{"escaped separator in key", `a\=b\:c=d`, []property{{"a=b:c", "d", 1}}},
		{"escaped space in key", `a\ b=c`, []property{{"a b", "c", 1}}},
		{"escaped other char", `a=\q\#`, []property{{"a", "q#", 1}}},
		{"escaped multibyte char", `a=\é`, []property{{"a", "é", 1}}},
		{"utf8 value", "a=zkd·é", []property{{"a", "zkd·é", 1}}},
		{"duplicates all returned", "a=1\na=2", []property{{"a", "1", 1}, {"a", "2", 2}}},
		{"empty input", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProperties(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		line    int
		wantErr string
	}{
		{"short unicode escape in value", "x=1\na=\\u12", 2, `value of "a": malformed \uxxxx escape "\\u12"`},
		{"non-hex unicode escape", "a=\\uzz00", 1, `malformed \uxxxx escape "\\uzz00"`},
		{"bad escape in key", "\\u00g0=1", 1, `key: malformed \uxxxx escape`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseProperties(tc.in)
			require.Error(t, err)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.line, ce.Line)
			require.Contains(t, err.Error(), tc.wantErr)
		})
	}
}
