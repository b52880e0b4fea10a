package sidecar_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/sidecartest"
)

// TestWebsocketSessionInTheFile: an open websocket session shows in the
// trail while it runs: its started event is in the file within a second of
// the 101, and the completed one, at close, counts the bytes both ways
// (docs/guarantees.md "Long-running answers").
func TestWebsocketSessionInTheFile(t *testing.T) {
	up := sidecartest.Upstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(conn, brw) // echo
	}))
	cfg := sidecartest.Config(t, up.URL)
	cfg.ActivityTracker.Track.Always = []string{"/ws"}
	s := sidecartest.Start(t, cfg)
	addr := strings.TrimPrefix(s.ProxyURL(), "http://")
	conn, err := net.DialTimeout("tcp", addr, sidecartest.Wait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(sidecartest.Wait))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", addr)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	switched := time.Now()
	id := resp.Header.Get("X-Request-Id")
	var started sidecartest.Line
	for deadline := switched.Add(time.Second); ; time.Sleep(20 * time.Millisecond) {
		found := false
		for _, l := range s.Lines() {
			if l.Req.Path == "/ws" && l.DetailsMap["stage"] == "started" {
				started, found = l, true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no started event in the file within 1 s of the 101, the session still open")
		}
	}
	if started.DetailsMap["request_id"] != id || started.Res.StatusCode != 101 {
		t.Errorf("started event %+v, want request_id %s and status 101", started, id)
	}
	for _, msg := range []string{"hello", "world!"} {
		io.WriteString(conn, msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo %q %v", got, err)
		}
	}
	conn.Close()
	final := s.WaitLine("the completed event", func(l sidecartest.Line) bool { return l.ID == id })
	if final.DetailsMap["stage"] != "completed" || final.Req.Bytes != 11 || final.Res.Bytes != 11 {
		t.Errorf("completed event: details %v, req.bytes %d, res.bytes %d; want 11 each way", final.DetailsMap, final.Req.Bytes, final.Res.Bytes)
	}
}
