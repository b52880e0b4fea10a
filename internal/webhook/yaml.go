package webhook

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// endpointKeys are the keys of an Endpoint in YAML.
var endpointKeys = []string{"url", "user", "password_file", "tls_verify", "headers"}

// UnmarshalYAML decodes the endpoints, accepting event_update as another
// name for event_log (setting both is an error).
//
// yaml.Node.Decode does not inherit the decoder's KnownFields, so this
// checks the keys itself, here and in each endpoint: an unknown key is an
// error, reported in the words and form of the yaml package's own
// ("line N: field K not found in type T") so it reads like any other.
func (e *Endpoints) UnmarshalYAML(node *yaml.Node) error {
	node = resolveAlias(node)
	if node.Kind != yaml.MappingNode {
		type plain Endpoints // no UnmarshalYAML: yaml reports the type error
		return node.Decode((*plain)(e))
	}
	var problems []string
	seen := map[string]int{} // key -> line, for event_log and its alias
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		var target *Endpoint
		switch key.Value {
		case "event_log", "event_update":
			if line, ok := seen["event_log"]; ok {
				problems = append(problems, fmt.Sprintf(
					"line %d: webhooks.endpoints.%s: event_log is already set (line %d); event_update is another name for it",
					key.Line, key.Value, line))
				continue
			}
			seen["event_log"] = key.Line
			target = &e.EventLog
		case "general":
			if line, ok := seen["general"]; ok {
				problems = append(problems, fmt.Sprintf(
					"line %d: webhooks.endpoints.general: already set (line %d)", key.Line, line))
				continue
			}
			seen["general"] = key.Line
			target = &e.General
		default:
			problems = append(problems, fmt.Sprintf("line %d: field %s not found in type webhook.Endpoints",
				key.Line, key.Value))
			continue
		}
		problems = append(problems, decodeEndpoint(value, target)...)
	}
	if len(problems) > 0 {
		return &yaml.TypeError{Errors: problems}
	}
	return nil
}

// decodeEndpoint decodes node into ep, rejecting unknown keys. It returns
// the problems found, in yaml.TypeError's form.
func decodeEndpoint(node *yaml.Node, ep *Endpoint) []string {
	node = resolveAlias(node)
	if node.Kind == yaml.ScalarNode && node.ShortTag() == "!!null" {
		*ep = Endpoint{}
		return nil
	}
	var problems []string
	if node.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(node.Content); i += 2 {
			if key := node.Content[i]; !slices.Contains(endpointKeys, key.Value) {
				problems = append(problems, fmt.Sprintf("line %d: field %s not found in type webhook.Endpoint",
					key.Line, key.Value))
			}
		}
	}
	if err := node.Decode(ep); err != nil {
		if typeErr, ok := err.(*yaml.TypeError); ok {
			return append(problems, typeErr.Errors...)
		}
		return append(problems, err.Error())
	}
	return problems
}

func resolveAlias(node *yaml.Node) *yaml.Node {
	for node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	return node
}
