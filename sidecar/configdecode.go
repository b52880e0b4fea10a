package sidecar

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/internal/ship"
)

// The config file is decoded here, from the YAML node tree, rather than by
// yaml's own Decode: every problem then comes out as a *ConfigError holding
// the key path, the line and the value as values, with no message text to
// be read back. Strict, like KnownFields(true): an unknown key, a key set
// twice, or a value of the wrong kind is an error. A mapping decodes over
// what the field holds (the defaults); a list replaces it.

// Sentinel causes of a *ConfigError, for errors.Is.
var (
	ErrUnknownKey   = errors.New("unknown key")
	ErrDuplicateKey = errors.New("set twice")
)

// maxAliasExpansion bounds what YAML aliases can make a small file decode
// into (the "billion laughs" attack): nodes visited per file.
const maxAliasExpansion = 100000

type configDecoder struct {
	visited int
}

// decodeConfig decodes the document root into cfg.
func decodeConfig(root *yaml.Node, cfg *Config) error {
	if root.Kind == 0 {
		return nil // no document at all: the defaults
	}
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil // an empty file: the defaults
		}
		root = root.Content[0]
	}
	d := &configDecoder{}
	return d.decode(root, "", reflect.ValueOf(cfg).Elem())
}

func (d *configDecoder) decode(n *yaml.Node, key string, v reflect.Value) error {
	if d.visited++; d.visited > maxAliasExpansion {
		return &ConfigError{Key: topKey(key), Line: n.Line, Err: errors.New("too many nodes (aliases expanding too far)")}
	}
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return &ConfigError{Key: topKey(key), Line: n.Line, Err: errors.New("unknown alias")}
		}
		n = n.Alias
	}
	if isNull(n) && v.Kind() != reflect.Struct {
		v.Set(reflect.Zero(v.Type())) // "key:" or "key: null": the zero value
		return nil
	}
	if v.Type() == reflect.TypeFor[time.Duration]() {
		return d.duration(n, key, v)
	}
	if v.Type() == reflect.TypeFor[ship.ByteSize]() {
		return d.byteSize(n, key, v)
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.mapping(n, key, v)
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		if err := d.decode(n, key, elem.Elem()); err != nil {
			return err
		}
		v.Set(elem)
		return nil
	case reflect.Slice:
		return d.sequence(n, key, v)
	case reflect.Map:
		return d.stringMap(n, key, v)
	default:
		return d.scalar(n, key, v)
	}
}

// mapping decodes a mapping into a struct, by the fields' yaml names. A
// field may also be set under another name: `alias:"event_update"`.
func (d *configDecoder) mapping(n *yaml.Node, key string, v reflect.Value) error {
	if isNull(n) {
		return nil // "section:" alone keeps the defaults
	}
	if n.Kind != yaml.MappingNode {
		return &ConfigError{Key: topKey(key), Line: n.Line, Err: fmt.Errorf("%s: want a mapping of keys", kindWords(n))}
	}
	set := map[int]int{} // field index -> line it was set at
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		path := joinKey(key, k.Value)
		field, ok := fieldByName(v.Type(), k.Value)
		if !ok {
			return &ConfigError{Key: path, Line: k.Line, Err: fmt.Errorf("%w %q", ErrUnknownKey, k.Value)}
		}
		if line, dup := set[field]; dup {
			return &ConfigError{Key: path, Line: k.Line, Err: fmt.Errorf("%w (first at line %d)", ErrDuplicateKey, line)}
		}
		set[field] = k.Line
		if err := d.decode(val, path, v.Field(field)); err != nil {
			return err
		}
	}
	return nil
}

// fieldByName finds the exported field named name in YAML (its tag, or
// its alias tag).
func fieldByName(t reflect.Type, name string) (int, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		if tag == name || f.Tag.Get("alias") == name && name != "" {
			return i, true
		}
	}
	return 0, false
}

func (d *configDecoder) sequence(n *yaml.Node, key string, v reflect.Value) error {
	if n.Kind != yaml.SequenceNode {
		return &ConfigError{Key: key, Line: n.Line, Value: scalarValue(n), Err: errors.New("want a list")}
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		if err := d.decode(c, fmt.Sprintf("%s[%d]", key, i), out.Index(i)); err != nil {
			return err
		}
	}
	v.Set(out)
	return nil
}

func (d *configDecoder) stringMap(n *yaml.Node, key string, v reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return &ConfigError{Key: key, Line: n.Line, Value: scalarValue(n), Err: errors.New("want a mapping")}
	}
	out := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		path := joinKey(key, k.Value)
		if out.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			return &ConfigError{Key: path, Line: k.Line, Err: fmt.Errorf("%w", ErrDuplicateKey)}
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		if err := d.decode(val, path, elem); err != nil {
			return err
		}
		out.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
	v.Set(out)
	return nil
}

func (d *configDecoder) duration(n *yaml.Node, key string, v reflect.Value) error {
	dur, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &ConfigError{Key: key, Line: n.Line, Value: scalarValue(n), Err: errors.New(`want a duration like "2s"`)}
	}
	v.SetInt(int64(dur))
	return nil
}

func (d *configDecoder) byteSize(n *yaml.Node, key string, v reflect.Value) error {
	if n.Kind != yaml.ScalarNode {
		return &ConfigError{Key: key, Line: n.Line, Value: scalarValue(n), Err: errors.New(`want a size like "1MiB"`)}
	}
	size, err := ship.ParseByteSize(n.Value)
	if err != nil {
		return &ConfigError{Key: key, Line: n.Line, Value: scalarValue(n), Err: err}
	}
	v.SetInt(int64(size))
	return nil
}

// scalar decodes a string, a number or a boolean. The tag yaml resolved
// decides: "8080" quoted is a string, 0.5 is not a whole number.
func (d *configDecoder) scalar(n *yaml.Node, key string, v reflect.Value) error {
	bad := func(want string) error {
		return &ConfigError{Key: key, Line: n.Line, Value: scalarValue(n), Err: errors.New("want " + want)}
	}
	if n.Kind != yaml.ScalarNode {
		return bad(kindWant(v.Kind()))
	}
	tag := n.ShortTag()
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if tag != "!!bool" || err != nil {
			return bad("true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if tag != "!!int" || err != nil {
			return bad("a whole number")
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if tag != "!!int" && tag != "!!float" || err != nil || math.IsNaN(f) {
			return bad("a number")
		}
		v.SetFloat(f)
	default:
		return bad(kindWant(v.Kind()))
	}
	return nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// scalarValue is the value of a scalar as written, for the error; nil
// for a list or a mapping (the error says which it was).
func scalarValue(n *yaml.Node) any {
	if n.Kind != yaml.ScalarNode {
		return shape(kindWords(n))
	}
	if tag := n.ShortTag(); tag == "!!int" || tag == "!!float" || tag == "!!bool" {
		return shape(n.Value) // printed as written, not quoted
	}
	return n.Value
}

// shape is a ConfigError value printed as is, not quoted.
type shape string

func kindWords(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return fmt.Sprintf("%q", n.Value)
}

func kindWant(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	}
	return "a " + k.String()
}

func joinKey(path, key string) string {
	if key == "" {
		key = `""` // an empty key still names a place
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func topKey(key string) string {
	if key == "" {
		return "(top level)"
	}
	return key
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
