package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/sidecar"
)

// coreRun runs one command line in-process.
func coreRun(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.yaml", "service: explorer\nactivity_tracker:\n  max_files: 9\n")
	other := write("other.yaml", "service: other\n")
	bad := write("bad.yaml", "service: explorer\nactivity_tracker:\n  trak: [POST]\n")
	badValue := write("bad-value.yaml", "listen: \"8080\"\n")
	writable := write("writable.yaml", "activity_tracker:\n  file_mode: \"0666\"\n")
	reserved := write("reserved.yaml", "service: explorer\nrequest_id_header: authorization\n")

	tests := []struct {
		name       string
		env        string // $TRAILCAR_CONFIG
		args       []string
		wantCode   int
		wantOut    []string // substrings of stdout
		wantErr    []string // substrings of stderr
		wantParsed string   // service of the printed config, when it must parse
	}{
		{"defaults", "", []string{"config", "check"}, 0,
			[]string{"listen: :8080", "upstream: http://127.0.0.1:3000", "max_size_mb: 2", "max_files: 5",
				"when_full: block", "redact_query:", "/api/v[123]/proxy{,/**}", "timeout: 2s"}, nil, "console"},
		{"file over the defaults", "", []string{"config", "check", "--config", good}, 0,
			[]string{"service: explorer", "max_files: 9", "max_size_mb: 2"}, nil, "explorer"},
		{"$TRAILCAR_CONFIG", good, []string{"config", "check"}, 0, []string{"service: explorer"}, nil, "explorer"},
		{"--config beats $TRAILCAR_CONFIG", good, []string{"config", "check", "--config", other}, 0,
			[]string{"service: other"}, nil, "other"},
		{"unknown key", "", []string{"config", "check", "--config", bad}, 2, nil,
			[]string{"activity_tracker.trak", "line 3", "unknown key"}, ""},
		{"bad value", "", []string{"config", "check", "--config", badValue}, 2, nil,
			[]string{"listen", "line 1", `"8080"`}, ""},
		{"file_mode writable by others", "", []string{"config", "check", "--config", writable}, 2, nil,
			[]string{"activity_tracker.file_mode (line 2)", `"0666"`, "no group or other write bits"}, ""},
		{"serve refuses file_mode writable by others", "", []string{"serve", "--config", writable}, 2, nil,
			[]string{"activity_tracker.file_mode (line 2)"}, ""},
		{"request_id_header a header the proxy depends on", "", []string{"config", "check", "--config", reserved}, 2, nil,
			[]string{"request_id_header (line 2)", `"authorization"`, "depends on"}, ""},
		{"serve refuses request_id_header: authorization", "", []string{"serve", "--config", reserved}, 2, nil,
			[]string{"request_id_header (line 2)"}, ""},
		{"bad $TRAILCAR_CONFIG", bad, []string{"config", "check"}, 2, nil, []string{"activity_tracker.trak (line 3)"}, ""},
		{"missing file", "", []string{"config", "check", "--config", filepath.Join(dir, "nope.yaml")}, 2, nil,
			[]string{"nope.yaml"}, ""},
		{"unknown flag", "", []string{"config", "check", "--confg", good}, 2, nil, []string{"--confg"}, ""},
		{"unexpected argument", "", []string{"config", "check", "extra"}, 2, nil, []string{`"extra"`}, ""},
		{"no subcommand", "", []string{"config"}, 2, nil, []string{"check"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TRAILCAR_CONFIG", tt.env)
			code, out, errOut := coreRun(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, errOut)
			}
			for _, s := range tt.wantOut {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q: %s", s, errOut)
				}
			}
			if tt.wantParsed != "" {
				cfg, err := sidecar.ParseConfig(strings.NewReader(out))
				if err != nil {
					t.Fatalf("printed config does not parse back: %v", err)
				}
				if cfg.Service != tt.wantParsed || cfg.Host == "" {
					t.Errorf("parsed back: service %q host %q", cfg.Service, cfg.Host)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := coreRun(t, "version")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"trailcar " + version + "\n", "go " + runtime.Version() + "\n", "commit "} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no command", nil},
		{"unknown command", []string{"frobnicate"}},
		{"unknown flag", []string{"--nope"}},
		{"serve with an argument", []string{"serve", "now"}},
		{"serve with an unknown flag", []string{"serve", "--listn", ":1"}},
		{"version with an argument", []string{"version", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, errOut := coreRun(t, tt.args...); code != 2 || errOut == "" {
				t.Errorf("exit %d, stderr %q; want 2 and a message", code, errOut)
			}
		})
	}
}

// TestConfigCheckPrintsEveryKey: `config check` prints every key the
// config file accepts, defaults included (a webhook endpoint's
// tls_verify and headers, an action's methods and level), and what it
// prints reads back to the same config.
func TestConfigCheckPrintsEveryKey(t *testing.T) {
	code, out, errOut := coreRun(t, "config", "check")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var printed yaml.Node
	if err := yaml.Unmarshal([]byte(out), &printed); err != nil {
		t.Fatal(err)
	}
	for _, key := range configKeys(reflect.TypeFor[sidecar.Config](), "") {
		if !hasKey(printed.Content[0], strings.Split(key, ".")) {
			t.Errorf("config check leaves out %s", key)
		}
	}

	path := filepath.Join(t.TempDir(), "printed.yaml")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	code, again, errOut := coreRun(t, "config", "check", "--config", path)
	if code != 0 || again != out {
		t.Errorf("printed config read back: exit %d %s\n%s\nwant\n%s", code, errOut, again, out)
	}
}

// configKeys lists the dotted key of every leaf the config accepts, by
// the yaml tags the decoder reads; "[]" steps into each element of a list
// of mappings.
func configKeys(typ reflect.Type, prefix string) []string {
	var keys []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		key := prefix + name
		switch ft := f.Type; {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
			keys = append(keys, configKeys(ft, key+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, configKeys(ft.Elem(), key+".[].")...)
		default:
			keys = append(keys, key)
		}
	}
	return keys
}

// hasKey reports whether the mapping n holds the key path; "[]" needs
// every element of a list to hold the rest (an empty list, as capture's
// default, is printed whole as []).
func hasKey(n *yaml.Node, path []string) bool {
	if len(path) == 0 {
		return true
	}
	if path[0] == "[]" {
		if n.Kind != yaml.SequenceNode {
			return false
		}
		for _, el := range n.Content {
			if !hasKey(el, path[1:]) {
				return false
			}
		}
		return true
	}
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == path[0] {
			return hasKey(n.Content[i+1], path[1:])
		}
	}
	return false
}
