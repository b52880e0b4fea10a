package proxy_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAuditTrailers: X-Audit-* sent by the app as trailers (after the body)
// never reach the client, and fill in the event, winning over headers.
func TestAuditTrailers(t *testing.T) {
	tests := []struct {
		name     string
		announce bool // declared in the Trailer header before the body
	}{
		{"announced", true},
		{"unannounced (TrailerPrefix)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.announce {
					w.Header().Set("Trailer", "X-Audit-Message, X-Audit-Resource, X-Other")
				}
				w.Header().Set("X-Audit-Message", "from the header")
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, "body")
				w.(http.Flusher).Flush() // chunked, so unannounced trailers are sent too
				if tt.announce {
					w.Header().Set("X-Audit-Message", "from the trailer")
					w.Header().Set("X-Audit-Resource", "widgets:w9")
					w.Header().Set("X-Other", "kept")
				} else {
					w.Header().Set(http.TrailerPrefix+"X-Audit-Message", "from the trailer")
					w.Header().Set(http.TrailerPrefix+"X-Audit-Resource", "widgets:w9")
					w.Header().Set(http.TrailerPrefix+"X-Other", "kept")
				}
			}), harnessOptions{})
			resp, err := h.client().Post(h.front.URL+"/api/v3/widgets", "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			for k, v := range resp.Trailer {
				if strings.HasPrefix(strings.ToLower(k), "x-audit-") {
					t.Errorf("trailer %s reached the client (%q)", k, v)
				}
			}
			if got := resp.Trailer.Get("X-Other"); got != "kept" {
				t.Errorf("other trailer X-Other = %q, want kept", got)
			}
			if hs := auditHeadersIn(resp.Header); len(hs) > 0 {
				t.Errorf("headers reached the client: %v", hs)
			}
			evs := h.events(1)
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			e := evs[0]
			if e.Message != "from the trailer" || e.Resource.Type != "widgets" || e.Resource.ID != "w9" {
				t.Errorf("event message %q resource %+v", e.Message, e.Resource)
			}
		})
	}
}
