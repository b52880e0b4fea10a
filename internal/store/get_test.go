package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

func TestGet(t *testing.T) {
	l := openLog(t, true)
	ids := l.emitN(t, 0, 4000)
	l.flush(t)
	waitFiles(t, l.dir, true)
	st := l.store(store.Options{})
	want := map[string]string{}
	for _, line := range allLines(t, l.dir) {
		id, _ := event.LineID(line)
		want[string(id)] = string(line)
	}
	for _, i := range []int{0, 1, 1999, 2000, 3998, 3999} {
		got, err := st.Get(context.Background(), ids[i])
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if string(got) != want[ids[i]] {
			t.Fatalf("event %d: got %s, want %s", i, got, want[ids[i]])
		}
	}
	tests := []struct {
		name, id string
		err      error
	}{
		{"absent, recent time", strings.Repeat("f", 32), store.ErrNotFound},
		{"absent, time of the log", ids[100][:12] + strings.Repeat("0", 20), store.ErrNotFound},
		{"upper case", strings.ToUpper(ids[0]), event.ErrBadID},
		{"short", ids[0][:31], event.ErrBadID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := st.Get(context.Background(), tt.id); !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

// An id made on another clock can be later than its eventTime: Get falls
// back to reading before the id's time.
func TestGetIDFromAnotherClock(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	var evs []*event.Event
	for i := 0; i < 50; i++ {
		e := testEvent(i)
		e.Time, e.Service, e.Host = base.Add(time.Duration(i)*time.Second), "s", "h"
		clock := base.Add(time.Duration(i) * time.Second)
		if i == 10 {
			clock = base.Add(time.Hour) // far after its eventTime
		}
		e.ID = (&event.IDs{Now: func() time.Time { return clock }}).New()
		evs = append(evs, e)
	}
	writeFixture(t, dir, []string{"audit.log", "audit-2026-11-22T08-00-30.000.log"}, [][]*event.Event{evs[30:], evs[:30]})
	got, err := store.New(store.Options{Dir: dir}).Get(context.Background(), evs[10].ID)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := event.LineID(got); string(id) != evs[10].ID {
		t.Fatalf("got %s", got)
	}
}
