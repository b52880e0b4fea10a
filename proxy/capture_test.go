package proxy_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/proxy"
	"github.com/trailcar/trailcar/rules"
)

var defaultRedactFields = []string{"password", "secret", "token", "access_token", "refresh_token",
	"private_key", "client_secret", "apikey", "api_key"}

// capturing is the default policy with one capture rule and the default
// redact_fields.
func capturing(rule rules.CaptureRule) harnessOptions {
	p := rules.DefaultPolicy()
	p.Capture = []rules.CaptureRule{rule}
	return harnessOptions{policy: &p, configure: func(o *proxy.Options) { o.RedactFields = defaultRedactFields }}
}

func onlyEvent(t *testing.T, h *harness) event.Event {
	t.Helper()
	events := h.events(1)
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	return events[0]
}

// TestCaptureJSON: a JSON body with a password three levels down reaches
// the app whole and is written REDACTED; the answer's body is kept too,
// and X-Audit-Details is redacted as well.
func TestCaptureJSON(t *testing.T) {
	const sent = `{"user":{"name":"alice","auth":{"password":"hunter2"}},"tags":["a"]}`
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		if string(got) != sent {
			t.Errorf("the app got %q", got)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Audit-Details", `{"changed":{"Secret":"s"}}`)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"c1","token":"t0k3n"}`)
	}), capturing(rules.CaptureRule{Path: "/api/**", Methods: []string{"POST"}, Request: true, Response: true}))
	resp, err := h.client().Post(h.front.URL+"/api/v3/components", "application/json", strings.NewReader(sent))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"id":"c1","token":"t0k3n"}` {
		t.Errorf("the client got %q", body)
	}
	e := onlyEvent(t, h)
	if want := `{"user":{"name":"alice","auth":{"password":"REDACTED"}},"tags":["a"]}`; string(e.Req.Body) != want || e.Req.BodyTruncated {
		t.Errorf("req.body %s (truncated %v), want %s", e.Req.Body, e.Req.BodyTruncated, want)
	}
	if want := `{"id":"c1","token":"REDACTED"}`; string(e.Res.Body) != want {
		t.Errorf("res.body %s, want %s", e.Res.Body, want)
	}
	if want := `{"changed":{"Secret":"REDACTED"}}`; string(e.Res.ClientDetails) != want {
		t.Errorf("client_details %s, want %s", e.Res.ClientDetails, want)
	}
	line, _ := event.AppendJSON(nil, &e)
	if bytes.Contains(line, []byte("hunter2")) || bytes.Contains(line, []byte("t0k3n")) {
		t.Errorf("a secret is in the line: %s", line)
	}
}

// TestCaptureLargeBodyStreams: a body far over max_bytes reaches the app
// whole, and the event keeps its first max_bytes, marked cut.
func TestCaptureLargeBodyStreams(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 200<<10) // 3.4 MB of text
	want := sha256.Sum256(big)
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hash := sha256.New()
		io.Copy(hash, r.Body)
		if [32]byte(hash.Sum(nil)) != want {
			t.Error("the app got another body")
		}
	}), capturing(rules.CaptureRule{Path: "/upload", Request: true, MaxBytes: 100}))
	req, _ := http.NewRequest("PUT", h.front.URL+"/upload", io.MultiReader(bytes.NewReader(big))) // no length: chunked
	req.Header.Set("Content-Type", "text/plain")
	resp, err := h.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e := onlyEvent(t, h)
	var got string
	if err := json.Unmarshal(e.Req.Body, &got); err != nil || got != string(big[:100]) || !e.Req.BodyTruncated {
		t.Errorf("req.body %s (truncated %v), want the first 100 bytes, cut", e.Req.Body, e.Req.BodyTruncated)
	}
}

// TestCaptureUnreadBody: an app that answers without reading the body
// still has its head in the event (read ahead before the app was called).
func TestCaptureUnreadBody(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}), capturing(rules.CaptureRule{Path: "/**", Request: true}))
	resp, err := h.client().Post(h.front.URL+"/form", "application/x-www-form-urlencoded", strings.NewReader("user=bob&password=pw&x=1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e := onlyEvent(t, h)
	if want := `{"user":"bob","password":"REDACTED","x":"1"}`; string(e.Req.Body) != want {
		t.Errorf("req.body %s, want %s", e.Req.Body, want)
	}
}

// TestCaptureGzipAnswer: a gzip answer reaches the client as the app sent
// it; the event has it decoded.
func TestCaptureGzipAnswer(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	io.WriteString(zw, `[{"id":2,"apikey":"k"}]`)
	zw.Close()
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(z.Bytes())
	}), capturing(rules.CaptureRule{Path: "/**", Methods: []string{"DELETE"}, Response: true}))
	req, _ := http.NewRequest("DELETE", h.front.URL+"/posts/2", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := h.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, z.Bytes()) {
		t.Errorf("the client got %q, want the app's gzip bytes", got)
	}
	e := onlyEvent(t, h)
	if want := `[{"id":2,"apikey":"REDACTED"}]`; string(e.Res.Body) != want {
		t.Errorf("res.body %s, want %s", e.Res.Body, want)
	}
	if len(e.Req.Body) != 0 {
		t.Errorf("req.body %s: the rule asks for the response only", e.Req.Body)
	}
}

// TestCaptureSSEFirstByte: an event stream through a capture rule gets
// its first event while the app still holds the stream open, as without
// the rule: the app sends its second event only once the client has read
// the first, so a capture that held bytes back would never see it.
func TestCaptureSSEFirstByte(t *testing.T) {
	for _, c := range []struct {
		name string
		ho   harnessOptions
	}{
		{"without capture", harnessOptions{}},
		{"with capture", capturing(rules.CaptureRule{Path: "/**", Request: true, Response: true})},
	} {
		t.Run(c.name, func(t *testing.T) {
			read := make(chan struct{})
			h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: first\n\n")
				http.NewResponseController(w).Flush()
				select {
				case <-read:
				case <-time.After(waitFor):
					t.Error("the client never read the first event")
				}
				io.WriteString(w, "data: second\n\n")
			}), c.ho)
			start := time.Now()
			resp, err := h.client().Post(h.front.URL+"/stream", "application/json", strings.NewReader(`{"a":1}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || line != "data: first\n" {
				t.Fatalf("first line %q, %v", line, err)
			}
			first := time.Since(start)
			close(read)
			io.Copy(io.Discard, resp.Body)
			t.Logf("first event after %v", first)
			if first > 2*time.Second {
				t.Errorf("first event after %v", first)
			}
			events := h.events(1) // an event stream's started event, then its final one
			e := events[len(events)-1]
			if len(events) != 2 || len(events[0].Res.Body) != 0 {
				t.Errorf("events %+v: want a started one without bodies and a final one", events)
			}
			if c.ho.policy != nil && string(e.Res.Body) != `"data: first\n\ndata: second\n\n"` {
				t.Errorf("res.body %s", e.Res.Body)
			}
		})
	}
}

// TestCaptureRefused: a request refused before it reached the app
// (fail_closed) keeps nothing of its body, whatever the rule.
func TestCaptureRefused(t *testing.T) {
	ho := capturing(rules.CaptureRule{Path: "/**", Request: true, Response: true})
	configure := ho.configure
	ho.configure = func(o *proxy.Options) { configure(o); o.FailClosed = func() bool { return true } }
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a refused request reached the app")
	}), ho)
	resp, err := h.client().Post(h.front.URL+"/api/v3/components", "application/json", strings.NewReader(`{"name":"c1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e := onlyEvent(t, h)
	if e.Res.StatusCode != http.StatusServiceUnavailable || len(e.Req.Body) != 0 || len(e.Res.Body) != 0 {
		t.Errorf("event %d req.body %s res.body %s: want 503 and no bodies", e.Res.StatusCode, e.Req.Body, e.Res.Body)
	}
}
