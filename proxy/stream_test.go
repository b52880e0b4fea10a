package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/proxy"
	"github.com/trailcar/trailcar/rules"
)

// TestStreaming: server-sent events and chunked bodies reach the client as
// the upstream flushes them, not when it finishes.
func TestStreaming(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		first       string
	}{
		{"server-sent events", "text/event-stream", "data: 1"},
		{"chunked", "text/plain", "first chunk"},
	}
	for _, tt := range tests {
		for _, streams := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/streams=%v", tt.name, streams), func(t *testing.T) {
				release := make(chan struct{})
				h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", tt.contentType)
					w.Header().Set("X-Audit-Track", "true")
					fmt.Fprintf(w, "%s\n\n", tt.first)
					http.NewResponseController(w).Flush()
					select {
					case <-release:
					case <-r.Context().Done():
						return
					}
					fmt.Fprint(w, "last\n")
				}), harnessOptions{configure: func(o *proxy.Options) {
					if streams {
						o.Streams = &proxy.Streams{}
					}
				}})
				resp, err := h.client().Get(h.front.URL + "/api/v3/ticks")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.ContentLength != -1 {
					t.Errorf("ContentLength %d, want a streamed body", resp.ContentLength)
				}
				if found := auditHeadersIn(resp.Header); len(found) > 0 {
					t.Errorf("client got %v", found)
				}
				br := bufio.NewReader(resp.Body)
				line := make(chan string, 1)
				go func() {
					l, _ := br.ReadString('\n')
					line <- l
				}()
				select {
				case l := <-line:
					if strings.TrimSpace(l) != tt.first {
						t.Fatalf("first line %q, want %q", l, tt.first)
					}
				case <-time.After(waitFor):
					close(release)
					t.Fatal("the first chunk did not arrive while the upstream was still answering")
				}
				close(release)
				rest, err := io.ReadAll(br)
				if err != nil || !strings.HasSuffix(string(rest), "last\n") {
					t.Fatalf("rest %q, %v", rest, err)
				}
				events := h.events(1)
				want := int64(len(tt.first) + 1 + len(rest))
				if tt.contentType != "text/event-stream" {
					if len(events) != 1 || events[0].Res.Bytes != want {
						t.Fatalf("events %+v, want one counting %d bytes", events, want)
					}
					return
				}
				// An event stream is long-running: an event when its head
				// went out, then the final one (docs/guarantees.md
				// "Long-running answers").
				if len(events) != 2 {
					t.Fatalf("events %+v, want started and completed", events)
				}
				started, final := events[0], events[1]
				sd, fd := detailsOf(t, started.Details), detailsOf(t, final.Details)
				if sd["stage"] != "started" || sd["request_id"] != final.ID || started.ID == final.ID || started.Res.StatusCode != 200 {
					t.Errorf("started event %+v, details %v", started, sd)
				}
				if fd["stage"] != "completed" || final.Res.Bytes != want {
					t.Errorf("final event %+v, details %v; want stage completed and %d bytes", final, fd, want)
				}
			})
		}
	}
}

// wsUpstream answers an Upgrade with 101 and echoes what it reads.
func wsUpstream(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want an upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("upstream hijack: %v", err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"X-Audit-Action: app.socket.open\r\nX-Audit-Message: socket\r\nX-Request-Id: upstream-id\r\n\r\n")
		brw.Flush()
		buf := make([]byte, 1024)
		for {
			n, err := brw.Read(buf)
			if n > 0 {
				conn.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	})
}

// dialWebsocket sends an Upgrade request on a raw connection and returns
// the connection, its reader and the 101 answer.
func dialWebsocket(t testing.TB, addr, path string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(waitFor))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Request-Id: client-id\r\n\r\n", path, addr)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read upgrade answer: %v", err)
	}
	return conn, br, resp
}

// TestWebsocket: an upgrade passes through, the 101 carries the request id
// and no audit header, bytes flow both ways, and it is one event.
func TestWebsocket(t *testing.T) {
	for _, streams := range []bool{false, true} {
		t.Run(fmt.Sprintf("streams=%v", streams), func(t *testing.T) {
			policy := rules.DefaultPolicy()
			policy.Always = append(policy.Always, "/ws")
			h := newHarness(t, wsUpstream(t), harnessOptions{policy: &policy, configure: func(o *proxy.Options) {
				if streams {
					o.Streams = &proxy.Streams{}
				}
			}})
			conn, br, resp := dialWebsocket(t, h.front.Listener.Addr().String(), "/ws")
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d, want 101", resp.StatusCode)
			}
			if found := auditHeadersIn(resp.Header); len(found) > 0 {
				t.Errorf("client got %v", found)
			}
			id := resp.Header.Get("X-Request-Id")
			if !hexID.MatchString(id) {
				t.Errorf("X-Request-Id %q, want trailcar's id", id)
			}
			for _, msg := range []string{"ping", "pong pong"} {
				if _, err := io.WriteString(conn, msg); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
					t.Fatalf("echo %q, %v; want %q", got, err, msg)
				}
			}
			conn.Close()
			events := h.events(1)
			if len(events) != 2 {
				t.Fatalf("got %d events, want started and completed", len(events))
			}
			started, e := events[0], events[1]
			if sd := detailsOf(t, started.Details); sd["stage"] != "started" || sd["request_id"] != id || started.Res.StatusCode != 101 {
				t.Errorf("started event %+v, details %v", started, sd)
			}
			if e.ID != id || e.Res.StatusCode != 101 || e.Action != "app.socket.open" || e.Message != "socket" || e.Outcome != "success" {
				t.Errorf("event %+v", e)
			}
			// ping and pong pong, each way through the tunnel.
			if d := detailsOf(t, e.Details); d["stage"] != "completed" || e.Req.Bytes != 13 || e.Res.Bytes != 13 {
				t.Errorf("final event: details %v, req.bytes %d, res.bytes %d; want completed, 13 each way", d, e.Req.Bytes, e.Res.Bytes)
			}
		})
	}
}

// TestUpgradeRefused: an upstream answering 101 to a request that did not
// ask for that protocol gets a 502, and the event says 502, not 101.
func TestUpgradeRefused(t *testing.T) {
	policy := rules.DefaultPolicy()
	policy.Always = append(policy.Always, "/ws")
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(io.Discard, brw)
	}), harnessOptions{policy: &policy})
	_, _, resp := dialWebsocket(t, h.front.Listener.Addr().String(), "/ws")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	events := h.events(1)
	if len(events) != 1 || events[0].Res.StatusCode != http.StatusBadGateway || events[0].Outcome != "failure" {
		t.Fatalf("events %+v, want one 502 failure", events)
	}
}

// TestHTTP2: over HTTP/2 (TLS), with per-connection stream tracking on,
// the audit headers are still taken off and recorded.
func TestHTTP2(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Audit-Action", "app.h2.post")
		w.WriteHeader(201)
	}), harnessOptions{http2: true, configure: func(o *proxy.Options) { o.Streams = &proxy.Streams{} }})
	for i := range 3 {
		resp, err := h.client().Post(h.front.URL+"/api/v3/things", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("proto %s, want HTTP/2", resp.Proto)
		}
		if found := auditHeadersIn(resp.Header); len(found) > 0 {
			t.Errorf("request %d: client got %v", i, found)
		}
	}
	events := h.events(3)
	if len(events) != 3 {
		t.Fatalf("got %d events, want 3", len(events))
	}
	for _, e := range events {
		if e.Action != "app.h2.post" {
			t.Errorf("action %q, want app.h2.post", e.Action)
		}
	}
}

// TestStreamsEndAll: EndAll ends the streams in progress (a websocket and
// an event stream), Wait returns once their events are recorded, and a
// stream starting afterwards is refused.
func TestStreamsEndAll(t *testing.T) {
	sse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 1\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	ws := wsUpstream(t)
	policy := rules.DefaultPolicy()
	policy.Always = append(policy.Always, "/ws", "/sse")
	streams := &proxy.Streams{}
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			ws.ServeHTTP(w, r)
			return
		}
		sse(w, r)
	}), harnessOptions{policy: &policy, configure: func(o *proxy.Options) { o.Streams = streams }})

	conn, wsReader, resp := dialWebsocket(t, h.front.Listener.Addr().String(), "/ws")
	if resp.StatusCode != 101 {
		t.Fatalf("upgrade: %d", resp.StatusCode)
	}
	events, err := h.client().Get(h.front.URL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer events.Body.Close()
	if l, err := bufio.NewReader(events.Body).ReadString('\n'); err != nil || l != "data: 1\n" {
		t.Fatalf("first line %q, %v", l, err)
	}

	streams.EndAll()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := streams.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if n := len(h.rec.Events()); n != 4 {
		t.Fatalf("%d events when Wait returned, want both streams' (started and completed)", n)
	}
	conn.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadAll(wsReader); err != nil {
		t.Errorf("the websocket was not closed: %v", err)
	}
	late, err := h.client().Get(h.front.URL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	late.Body.Close()
	if late.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a stream after EndAll: %d, want 503", late.StatusCode)
	}
}

// TestLongAnswerStartedEvent: an answer whose body still runs LongAnswer
// after its head gets a started event then; one that says it is small does
// not, however slow, and neither does one that ends in time.
func TestLongAnswerStartedEvent(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			w.Header().Set("Content-Length", "2")
		}
		w.Write([]byte("a"))
		http.NewResponseController(w).Flush()
		if r.URL.Path != "/quick" {
			time.Sleep(400 * time.Millisecond)
		}
		w.Write([]byte("b"))
	}), harnessOptions{policy: &trackAll, configure: func(o *proxy.Options) { o.LongAnswer = 100 * time.Millisecond }})
	for _, path := range []string{"/download", "/small", "/quick"} {
		resp, err := h.client().Get(h.front.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	events := h.events(3)
	var stages []string
	for _, e := range events {
		d := detailsOf(t, e.Details)
		stage, _ := d["stage"].(string)
		stages = append(stages, e.Req.Path+":"+stage)
		if stage == "started" && (d["request_id"] != events[1].ID || e.Res.StatusCode != 200) {
			t.Errorf("started event %+v, details %v; want the download's id", e, d)
		}
	}
	if want := []string{"/download:started", "/download:completed", "/small:", "/quick:"}; fmt.Sprint(stages) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", stages, want)
	}
}
