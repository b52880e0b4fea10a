package examplecheck_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/internal/ship"
	"github.com/trailcar/trailcar/internal/webhook"
)

// nameRecorder is a prometheus.Registerer that keeps the names of what is
// registered on it.
type nameRecorder struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *nameRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

func (r *nameRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		r.Register(c)
	}
}

func (r *nameRecorder) Unregister(prometheus.Collector) bool { return false }

// metricNames are every metric trailcar exports: metrics.New's, the queue
// gauges the audit writer and the webhook dispatcher add, the Go and
// process collectors'; histograms with their _bucket, _sum and _count.
func metricNames(t *testing.T) map[string]bool {
	t.Helper()
	rec := &nameRecorder{names: map[string]bool{}}
	m := metrics.New(rec)
	w := audit.New(audit.Options{Metrics: m})
	defer w.Close(context.Background())
	cfg := webhook.DefaultConfig()
	cfg.Enabled = true
	cfg.Endpoints.EventLog.URL = "http://127.0.0.1:1/"
	d, err := webhook.New(cfg, webhook.Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	ship.NewMetrics(rec) // registered with shipping on
	for _, h := range []string{"trailcar_http_request_duration_seconds"} {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			rec.names[h+suffix] = true
		}
	}
	if !rec.names["trailcar_audit_queue_length"] || !rec.names["trailcar_webhook_queue_length"] || !rec.names["process_resident_memory_bytes"] {
		t.Fatalf("metric names incomplete: %v", rec.names)
	}
	return rec.names
}

var metricRef = regexp.MustCompile(`\b((?:trailcar|process|go)_[a-z0-9_]+)`)

// checkMetrics fails for every metric named in expr that trailcar does not
// export, and returns the names.
func checkMetrics(t *testing.T, where, expr string, known map[string]bool) []string {
	t.Helper()
	var names []string
	for _, m := range metricRef.FindAllStringSubmatch(expr, -1) {
		if !known[m[1]] {
			t.Errorf("%s: %s is not a trailcar metric (expr %s)", where, m[1], expr)
		}
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Errorf("%s: names no trailcar metric: %s", where, expr)
	}
	return names
}

// TestPrometheusExamples: the scrape config parses and names existing rule
// files; every alert has an expression on trailcar's metrics, a severity
// and a summary, and the alerts cover what docs/metrics.md "Alerts" promises.
// (promtool checks the rules' PromQL: .ci/promtool.sh.)
func TestPrometheusExamples(t *testing.T) {
	known := metricNames(t)
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	decodeYAML(t, "prometheus/prometheus.yml", &prom)
	if len(prom.ScrapeConfigs) == 0 || len(prom.RuleFiles) == 0 {
		t.Errorf("prometheus.yml: %+v, want scrape configs and rule files", prom)
	}
	for _, f := range prom.RuleFiles {
		if _, err := os.Stat(filepath.Join("prometheus", f)); err != nil {
			t.Errorf("rule_files: %v", err)
		}
	}

	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	decodeYAML(t, "prometheus/alert-rules.yml", &rules)
	covered := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			where := "alert " + r.Alert
			if r.Alert == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: want a name, labels.severity and annotations.summary", where)
			}
			if r.Alert == "TrailcarDown" {
				continue // on up{}, not a trailcar metric
			}
			for _, n := range checkMetrics(t, where, r.Expr, known) {
				covered[n] = true
			}
		}
	}
	for _, want := range []string{
		"trailcar_events_dropped_total", "trailcar_audit_write_errors_total", "trailcar_upstream_errors_total",
		"trailcar_webhook_deliveries_total", "trailcar_audit_queue_length", "trailcar_audit_queue_capacity",
		"trailcar_integrity_last_checkpoint_timestamp_seconds",
		"trailcar_ship_up", "trailcar_ship_lag_seconds", "trailcar_ship_lines_total",
	} {
		if !covered[want] {
			t.Errorf("no alert on %s", want)
		}
	}
}

// TestGrafanaDashboard: valid dashboard JSON whose panels sit on the grid
// without overlapping, query only trailcar's metrics, and show what the
// issue asks for.
func TestGrafanaDashboard(t *testing.T) {
	known := metricNames(t)
	data, err := os.ReadFile("grafana/trailcar-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title         string `json:"title"`
		UID           string `json:"uid"`
		SchemaVersion int    `json:"schemaVersion"`
		Panels        []struct {
			ID      int                      `json:"id"`
			Type    string                   `json:"type"`
			Title   string                   `json:"title"`
			GridPos struct{ X, Y, W, H int } `json:"gridPos"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || dash.SchemaVersion < 30 || len(dash.Panels) == 0 {
		t.Fatalf("title %q uid %q schemaVersion %d, %d panels", dash.Title, dash.UID, dash.SchemaVersion, len(dash.Panels))
	}
	covered, ids := map[string]bool{}, map[int]bool{}
	type rect struct{ X, Y, W, H int }
	var placed []rect
	for _, p := range dash.Panels {
		where := "panel " + p.Title
		if p.Type == "" || p.Title == "" || ids[p.ID] || len(p.Targets) == 0 {
			t.Errorf("%s: want a type, a title, a unique id and targets", where)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v off the 24-column grid", where, g)
		}
		r := rect(g)
		if slices.ContainsFunc(placed, func(o rect) bool {
			return r.X < o.X+o.W && o.X < r.X+r.W && r.Y < o.Y+o.H && o.Y < r.Y+r.H
		}) {
			t.Errorf("%s: gridPos %+v overlaps another panel", where, g)
		}
		placed = append(placed, r)
		for _, tg := range p.Targets {
			if tg.RefID == "" {
				t.Errorf("%s: target without refId", where)
			}
			for _, n := range checkMetrics(t, where, tg.Expr, known) {
				covered[n] = true
			}
		}
	}
	for _, want := range []string{
		"trailcar_http_requests_total", "trailcar_http_request_duration_seconds_bucket", "trailcar_events_total",
		"trailcar_events_dropped_total", "trailcar_audit_write_errors_total", "trailcar_audit_queue_length",
		"trailcar_webhook_deliveries_total",
	} {
		if !covered[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}

// fbSection is one [SECTION] of a Fluent Bit classic config.
type fbSection struct {
	name string
	keys map[string]string // lower-cased key -> value
}

// parseFluentBit reads a Fluent Bit classic config: [SECTION] headers,
// then indented "Key value" lines; # comments and blank lines skipped.
func parseFluentBit(t *testing.T, file string) []fbSection {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sections []fbSection
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(trimmed, "]"):
			sections = append(sections, fbSection{name: strings.ToUpper(trimmed[1 : len(trimmed)-1]), keys: map[string]string{}})
		case line[0] != ' ' && line[0] != '\t':
			t.Errorf("%s:%d: %q: want an indented key or a [SECTION]", file, n, line)
		case len(sections) == 0:
			t.Errorf("%s:%d: key before any section", file, n)
		default:
			key, value, ok := strings.Cut(trimmed, " ")
			if !ok || strings.TrimSpace(value) == "" {
				t.Errorf("%s:%d: %q: want \"Key value\"", file, n, trimmed)
				continue
			}
			sections[len(sections)-1].keys[strings.ToLower(key)] = strings.TrimSpace(value)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sections
}

func sectionsNamed(ss []fbSection, name string) []fbSection {
	var out []fbSection
	for _, s := range ss {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

// TestFluentBitConfig: the tail input reads audit.log with the JSON parser
// defined in the parsers file, keeps offsets in a DB, waits out rotations,
// takes lines as long as trailcar writes, and an output takes its tag.
func TestFluentBitConfig(t *testing.T) {
	conf := parseFluentBit(t, "fluent-bit/fluent-bit.conf")
	parsers := parseFluentBit(t, "fluent-bit/parsers.conf")
	service := sectionsNamed(conf, "SERVICE")
	if len(service) != 1 || service[0].keys["parsers_file"] != "parsers.conf" {
		t.Fatalf("want one [SERVICE] with Parsers_File parsers.conf, got %+v", service)
	}
	inputs := sectionsNamed(conf, "INPUT")
	if len(inputs) != 1 {
		t.Fatalf("%d [INPUT] sections, want 1", len(inputs))
	}
	in := inputs[0].keys
	if in["name"] != "tail" || filepath.Base(in["path"]) != "audit.log" || in["db"] == "" || in["rotate_wait"] == "" || in["tag"] == "" {
		t.Errorf("[INPUT] %v: want tail of audit.log with DB, Rotate_Wait and a Tag", in)
	}
	if kib, err := strconv.Atoi(strings.TrimSuffix(strings.ToLower(in["buffer_max_size"]), "k")); err != nil || kib < 256 {
		t.Errorf("Buffer_Max_Size %q: want at least 256k, trailcar's longest line", in["buffer_max_size"])
	}
	var parser map[string]string
	for _, p := range sectionsNamed(parsers, "PARSER") {
		if p.keys["name"] == in["parser"] {
			parser = p.keys
		}
	}
	if parser == nil || parser["format"] != "json" || parser["time_key"] != "eventTime" {
		t.Errorf("parser %q: %v, want format json with Time_Key eventTime", in["parser"], parser)
	}
	outputs := sectionsNamed(conf, "OUTPUT")
	if len(outputs) == 0 {
		t.Fatal("no [OUTPUT]")
	}
	for _, o := range outputs {
		if o.keys["name"] == "" || o.keys["match"] != in["tag"] {
			t.Errorf("[OUTPUT] %v: want a Name and Match %s", o.keys, in["tag"])
		}
	}
}

func decodeYAML(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
