package sidecar_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestSecretsNeverWritten (docs/events.md "One event, one line"): credentials sent by the client or
// the upstream, secret query values and the upstream URL's password appear
// in no file of the log dir and in no log line, while the events are there.
func TestSecretsNeverWritten(t *testing.T) {
	secrets := []string{
		"SECRETJWTSIGNATURE", "SECRETBEARER", "SECRETPW", "SECRETBASICNOCOLON", "SECRETCOOKIE",
		"SECRETSETCOOKIE", "SECRETKEY1", "SECRETKEY2", "SECRETPROXYAUTH", "SECRETTOKEN", "SECRETACCESS",
		"SECRETPASSWORD", "SECRETAPIKEY", "SECRETSECRET", "SECRETAPIKEY2", "SECRETUPSTREAMPW", "SECRETMIXEDCASE",
		"SECRETADMINTOKEN",
	}
	jwt := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u-1","preferred_username":"alice"}`)) + ".SECRETJWTSIGNATURE"
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "SECRETSETCOOKIE"})
		w.Header().Set("X-Audit-Message", "done")
		w.WriteHeader(201)
	}))
	defer up.Close()
	upURL, _ := url.Parse(up.URL)
	upURL.User = url.UserPassword("svc", "SECRETUPSTREAMPW")
	cfg := sidecartest.Config(t, upURL.String())
	cfg.ActivityTracker.LogQuery = true
	c := sidecartest.Start(t, cfg)

	query := "?token=SECRETTOKEN&access_token=SECRETACCESS&password=SECRETPASSWORD&api_key=SECRETAPIKEY" +
		"&secret=SECRETSECRET&apikey=SECRETAPIKEY2&Token=SECRETMIXEDCASE&page=2"
	tests := []struct {
		name     string
		header   []string
		wantType string
	}{
		{"bearer jwt", []string{"Authorization", "Bearer " + jwt}, "token"},
		{"opaque bearer", []string{"Authorization", "Bearer SECRETBEARER"}, "token"},
		{"basic", []string{"Authorization", basic("alice:SECRETPW")}, "basic"},
		{"basic without a colon", []string{"Authorization", basic("SECRETBASICNOCOLON")}, "basic"},
		// Without an Authorization header the query's ?token= is the
		// credential (identity.query_tokens), whatever else is sent.
		{"cookie", []string{"Cookie", "session=SECRETCOOKIE"}, "token"},
		{"x-api-key", []string{"X-API-Key", "SECRETKEY1"}, "apikey"},
		{"apikey", []string{"apikey", "SECRETKEY2"}, "apikey"},
		{"proxy-authorization", []string{"Proxy-Authorization", basic("p:SECRETPROXYAUTH")}, "token"},
	}
	ids := map[string]string{}
	for _, tt := range tests {
		status, hdr, _ := sidecartest.Do(t, "POST", c.ProxyURL()+"/api/v3/things"+query, "{}", tt.header...)
		if status != 201 {
			t.Fatalf("%s: status %d", tt.name, status)
		}
		ids[hdr.Get("X-Request-Id")] = tt.name
	}
	// An outage too: its event, log lines and /readyz name the upstream.
	up.Close()
	if status, _, _ := sidecartest.Do(t, "POST", c.ProxyURL()+"/api/v3/things", "{}"); status != http.StatusBadGateway {
		t.Fatalf("with the upstream down: %d", status)
	}
	c.WaitLine("system.upstream.unreachable", func(l sidecartest.Line) bool { return l.Type == "system.upstream.unreachable" })
	// The admin API is audited with its query (where the routes are mounted).
	for _, path := range []string{"/api/v3/events?token=SECRETADMINTOKEN&limit=1", "/api/v3/logs?access_token=SECRETADMINTOKEN"} {
		sidecartest.Do(t, "GET", c.Sidecar.AdminURL()+path, "")
	}
	_, _, readyz := sidecartest.Do(t, "GET", c.Sidecar.AdminURL()+"/readyz", "")
	_, _, metrics := sidecartest.Do(t, "GET", c.Sidecar.AdminURL()+"/metrics", "")
	if !strings.Contains(readyz, "svc:xxxxx@") {
		t.Errorf("readyz %s: want the upstream named, its password redacted", readyz)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	lines := c.Lines()
	found := 0
	for _, l := range lines {
		name, ok := ids[l.ID]
		if !ok {
			continue
		}
		found++
		for _, tt := range tests {
			if tt.name == name && l.Creds.Type != tt.wantType {
				t.Errorf("%s: creds %+v, want type %s", name, l.Creds, tt.wantType)
			}
		}
		if !strings.Contains(l.Req.Query, "token=REDACTED") || !strings.Contains(l.Req.Query, "Token=REDACTED") ||
			!strings.Contains(l.Req.Query, "page=2") {
			t.Errorf("%s: query %q", name, l.Req.Query)
		}
	}
	if found != len(tests) {
		t.Fatalf("%d of %d events found", found, len(tests))
	}

	places := map[string]string{"the sidecar's log": c.Log.String(), "/readyz": readyz, "/metrics": metrics}
	entries, err := os.ReadDir(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range entries {
		data, err := os.ReadFile(filepath.Join(c.Dir(), de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		places[de.Name()] = string(data)
	}
	for place, text := range places {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains %s", place, s)
			}
		}
	}
}
