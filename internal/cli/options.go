package cli

import (
	"fmt"
	"regexp"
	"strings"
)

// optionSpec describes a command's options the way zkCli declares them
// with commons-cli, so that mistakes are reported with the same words.
type optionSpec struct {
	// takesValue lists every option letter; true when it has a value.
	takesValue map[string]bool
	// group holds mutually exclusive options, in declaration order
	// (commons-cli OptionGroup), with their descriptions.
	group []groupOption
	// required: one option of the group must be given.
	required bool
}

type groupOption struct{ name, desc string }

var (
	addWatchOptions      = &optionSpec{takesValue: map[string]bool{"m": true}}
	removeWatchesOptions = &optionSpec{takesValue: map[string]bool{"c": false, "d": false, "a": false, "l": false}}
	setQuotaOptions      = &optionSpec{
		takesValue: map[string]bool{"n": true, "b": true, "N": true, "B": true},
		group:      quotaGroup,
		required:   true,
	}
	delQuotaOptions = &optionSpec{
		takesValue: map[string]bool{"n": false, "b": false, "N": false, "B": false},
		group:      quotaGroup,
	}
	quotaGroup = []groupOption{
		{"n", "num soft quota"}, {"b", "bytes soft quota"},
		{"N", "num hard quota"}, {"B", "bytes hard quota"},
	}
)

// cliParseError renders like a wrapped commons-cli ParseException:
// zkCli prints the exception's toString.
func cliParseError(kind, format string, a ...interface{}) error {
	return fmt.Errorf("org.apache.commons.cli.%s: %s", kind, fmt.Sprintf(format, a...))
}

var negativeNumber = regexp.MustCompile(`^-\d+(\.\d+)?$`)

func (o *optionSpec) known(tok string) bool {
	if len(tok) < 2 || tok[0] != '-' {
		return false
	}
	_, ok := o.takesValue[tok[1:]]
	return ok
}

// parse follows commons-cli's DefaultParser: options may come anywhere, a
// value is the next token unless that is a known option (negative numbers
// are values), "-xy" is two flags, and group rules are checked.
func (o *optionSpec) parse(in []string) (*flags, error) {
	f := &flags{bools: map[string]bool{}, values: map[string]string{}}
	selected := ""
	inGroup := func(name string) bool {
		for _, g := range o.group {
			if g.name == name {
				return true
			}
		}
		return false
	}
	use := func(name string) error {
		if inGroup(name) {
			if selected != "" && selected != name {
				return cliParseError("AlreadySelectedException",
					"The option '%s' was specified but an option from this group has already been selected: '%s'", name, selected)
			}
			selected = name
		}
		return nil
	}
	for i := 0; i < len(in); i++ {
		tok := in[i]
		if len(tok) < 2 || tok[0] != '-' || negativeNumber.MatchString(tok) {
			f.args = append(f.args, tok)
			continue
		}
		name := tok[1:]
		if withValue, ok := o.takesValue[name]; ok {
			if err := use(name); err != nil {
				return nil, err
			}
			if !withValue {
				f.bools[name] = true
				continue
			}
			if i+1 >= len(in) || o.known(in[i+1]) {
				return nil, cliParseError("MissingArgumentException", "Missing argument for option: %s", name)
			}
			if _, dup := f.values[name]; !dup {
				f.values[name] = in[i+1]
			}
			i++
			continue
		}
		// "-n5": an option with its value attached.
		if withValue := o.takesValue[name[:1]]; withValue {
			if err := use(name[:1]); err != nil {
				return nil, err
			}
			f.values[name[:1]] = name[1:]
			continue
		}
		// "-cl": flags run together.
		for _, r := range name {
			withValue, ok := o.takesValue[string(r)]
			if !ok || withValue {
				return nil, cliParseError("UnrecognizedOptionException", "Unrecognized option: %s", tok)
			}
			if err := use(string(r)); err != nil {
				return nil, err
			}
			f.bools[string(r)] = true
		}
	}
	if o.required && selected == "" {
		parts := make([]string, len(o.group))
		for i, g := range o.group {
			parts[i] = "-" + g.name + " " + g.desc
		}
		return nil, cliParseError("MissingOptionException", "Missing required option: [%s]", strings.Join(parts, ", "))
	}
	return f, nil
}
