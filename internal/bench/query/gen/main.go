// Command gen writes a realistic audit log for the query benchmarks: a
// live file and rotated ones, as a sidecar with max_size_mb SIZE would
// leave them, with lumberjack's names, events in eventTime order.
//
//	go run ./bench/query/gen -dir /tmp/trailcar-query/logs -files 10 -size-mb 100
//
// About 5% of the events are errors; exactly one in 10,000 has the action
// console.keys.rotate (the rare filter of the benchmarks). It prints the
// first and last eventTime and an id from the middle.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/trailcar/trailcar/internal/event"
)

func main() {
	dir := flag.String("dir", "", "where to write (created)")
	files := flag.Int("files", 10, "how many files: the live one and rotated ones")
	sizeMB := flag.Int("size-mb", 100, "size of each file in MiB")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "gen: -dir is required")
		os.Exit(2)
	}
	if err := generate(*dir, *files, int64(*sizeMB)<<20, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// generator makes one event after another.
type generator struct {
	rnd   *rand.Rand
	now   time.Time
	n     int
	users []string
	buf   []byte
}

func generate(dir string, files int, size int64, seed uint64) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	g := &generator{rnd: rand.New(rand.NewPCG(seed, seed+1)), now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	for i := range 500 {
		g.users = append(g.users, fmt.Sprintf("user%03d@example.com", i))
	}
	first := g.now
	var midID string
	// Oldest first: rotated files, then the live one.
	for f := 0; f < files; f++ {
		name := "audit.log"
		path := filepath.Join(dir, ".gen.tmp")
		out, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(out, 1<<20)
		var written int64
		for written < size-4096 {
			line, id := g.next()
			if f == files/2 && midID == "" {
				midID = id
			}
			w.Write(line)
			written += int64(len(line))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		if f < files-1 {
			rotated := g.now.Add(time.Millisecond)
			name = "audit-" + rotated.Format("2006-01-02T15-04-05.000") + ".log"
		}
		if err := os.Rename(path, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	fmt.Printf("events: %d\nfirst: %s\nlast: %s\nmiddle id: %s\n", g.n, event.FormatTime(first), event.FormatTime(g.now), midID)
	return nil
}

// next returns the next event's line and id.
func (g *generator) next() ([]byte, string) {
	resources := [...]string{"components", "channels", "peers", "orderers", "identities", "wallets", "nodes", "settings", "users", "certificates", "keys", "policies"}
	r := g.rnd
	g.n++
	g.now = g.now.Add(time.Duration(50+r.IntN(500)) * time.Millisecond).Add(time.Duration(r.IntN(1000)) * time.Microsecond)
	dur := time.Duration(r.IntN(400_000)) * time.Microsecond
	ids := event.IDs{Now: func() time.Time { return g.now.Add(-dur) }}
	e := event.Event{
		ID: ids.New(), Time: g.now, Service: "console", Host: fmt.Sprintf("console-7d9f-%05d", r.IntN(3)),
		Type: event.TypeHTTP, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
		Address:    fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), r.IntN(256)),
		DurationMS: float64(dur.Microseconds()) / 1000,
	}
	user := g.users[r.IntN(len(g.users))]
	e.Creds = event.Creds{UUID: fmt.Sprintf("%012x", r.Uint64()>>16), Name: user, Type: "token"}
	res := resources[r.IntN(len(resources))]
	id := fmt.Sprintf("%s-%04d", res[:3], r.IntN(5000))
	method, verb, status := g.request()
	e.Action = "console." + res + "." + verb
	e.Req = event.Request{Method: method, Path: "/api/v3/" + res + "/" + id}
	e.Res = event.Response{StatusCode: status, Bytes: int64(r.IntN(20000))}
	if r.IntN(10) < 4 {
		e.Resource = event.Resource{Type: res, ID: id}
	}
	switch k := r.IntN(100); {
	case k < 3:
		e.Type, e.Action, e.Req, e.Res, e.Resource = "system.upstream.recovered", "", event.Request{}, event.Response{}, event.Resource{}
		e.Creds, e.Address, e.Message = event.Creds{}, "", "upstream reachable again: http://127.0.0.1:3000"
	case k < 8:
		e.Type = event.TypeClient
		e.Res.ClientDetails = json.RawMessage(fmt.Sprintf(`{"view":"%s","clicks":%d}`, res, r.IntN(9)))
	case k < 10:
		e.Type, e.Message = event.TypeNotification, "deployment of "+id+" finished"
		e.Details = json.RawMessage(fmt.Sprintf(`{"component_id":%q,"steps":[1,2,3]}`, id))
	}
	if e.Res.StatusCode >= 400 {
		e.Level, e.Outcome = event.LevelError, event.OutcomeFailure
	}
	if g.n%10000 == 5000 {
		e.Type, e.Action, e.Level = event.TypeHTTP, "console.keys.rotate", event.LevelInfo
	}
	g.buf, _ = event.AppendJSON(g.buf[:0], &e)
	return g.buf, e.ID
}

// request picks a method, its verb and a status: mostly reads and
// successful writes, about 5% errors.
func (g *generator) request() (method, verb string, status int) {
	r := g.rnd
	switch k := r.IntN(10); {
	case k < 5:
		method, verb, status = "GET", "read", 200
	case k < 7:
		method, verb, status = "POST", "create", 201
	case k < 8:
		method, verb, status = "PUT", "update", 200
	case k < 9:
		method, verb, status = "PATCH", "configure", 200
	default:
		method, verb, status = "DELETE", "delete", 204
	}
	if r.IntN(100) < 5 {
		status = []int{400, 401, 403, 404, 404, 500, 502}[r.IntN(7)]
	}
	return method, verb, status
}
