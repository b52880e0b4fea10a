package sidecar

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type`)
	lineMsg      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	// cannot unmarshal !!str `many` into int; !!seq into sidecar.Config
	typeMismatch = regexp.MustCompile("^cannot unmarshal !!(\\w+) (?:`(.*)` )?into (\\S+)$")
)

// typeWords says in words what a Go type of the config wants.
var typeWords = map[string]string{
	"int": "a whole number", "float64": "a number", "bool": "true or false", "string": "a string",
	"time.Duration": `a duration like "2s"`, "[]string": "a list", "[]int": "a list of numbers",
	"map[string]string": "a mapping",
}

// typeMessage rewrites a yaml type mismatch as `"value": want ...`, and
// reports whether the whole document had the wrong shape.
func typeMessage(msg string) (string, bool) {
	m := typeMismatch.FindStringSubmatch(msg)
	if m == nil {
		return strings.TrimPrefix(msg, "cannot unmarshal "), false
	}
	want, ok := typeWords[m[3]]
	if !ok {
		want = "a mapping of keys" // a config struct
	}
	got := fmt.Sprintf("%q", m[2])
	switch {
	case m[1] == "seq":
		got = "a list"
	case m[1] == "map":
		got = "a mapping"
	}
	return fmt.Sprintf("%s: want %s", got, want), m[3] == "sidecar.Config"
}

// yamlError turns a YAML decoding error into a ConfigError naming the key
// and line (root may be nil when the file is not even YAML).
func yamlError(err error, root *yaml.Node) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		if m := unknownField.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			key := keyAtLine(root, line, m[2])
			return &ConfigError{Key: key, Line: line, Msg: fmt.Sprintf("unknown key %q", m[2])}
		}
		if m := lineMsg.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			text, whole := typeMessage(m[2])
			key := "(top level)"
			if !whole {
				key = keyAtLine(root, line, "")
			}
			return &ConfigError{Key: key, Line: line, Msg: text}
		}
		return &ConfigError{Key: "?", Msg: msg}
	}
	if m := lineMsg.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ConfigError{Key: "(syntax)", Line: line, Msg: m[2]}
	}
	return &ConfigError{Key: "(syntax)", Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}

// keyAtLine finds the dotted path of the key at line (named name, if
// given), or of the value at line.
func keyAtLine(root *yaml.Node, line int, name string) string {
	if root == nil {
		return "?"
	}
	var found string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if found != "" {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := join(path, k.Value)
				if k.Line == line && (name == "" || k.Value == name) {
					found = p
					return
				}
				if name == "" && v.Line == line && v.Kind == yaml.ScalarNode {
					found = p
					return
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if name == "" && c.Line == line && c.Kind == yaml.ScalarNode {
					found = p
					return
				}
				walk(c, p)
			}
		}
	}
	walk(root, "")
	if found == "" {
		return "?"
	}
	return found
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// keyLine is the line of a dotted key path such as
// "activity_tracker.track.always[1]" in the file, or 0.
func keyLine(root *yaml.Node, key string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(key, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			name = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		if n == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == name {
				line, next = n.Content[i].Line, n.Content[i+1]
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
		line = n.Line
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
		// the next part may be inside a sequence element's mapping
	}
	return line
}
