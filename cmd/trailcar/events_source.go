package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/trailcar/trailcar/internal/client"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

// dirSource reads the audit files directly. Lines that do not decode are
// skipped, and counted on warn.
type dirSource struct {
	st   *store.Store
	warn io.Writer
}

func (d *dirSource) skipped(stats store.Stats) {
	if stats.Invalid > 0 {
		fmt.Fprintf(d.warn, "trailcar: skipped %d lines that are not events (torn or edited)\n", stats.Invalid)
	}
}

var _ source = (*dirSource)(nil)

// each walks everything on all cores when it wants all; else it reads
// pages, which stop as soon as they are full.
func (d *dirSource) each(ctx context.Context, f *event.Filter, limit int, fn func([]byte) error) error {
	if limit == 0 {
		stats, err := d.st.Each(ctx, f, nil, fn)
		d.skipped(stats)
		return err
	}
	var after *store.Cursor
	for sent := 0; sent < limit; {
		p, err := d.st.List(ctx, store.Query{Filter: f, Limit: min(limit-sent, store.MaxLimit), After: after})
		if err != nil {
			return err
		}
		d.skipped(p.Stats)
		for _, line := range p.Lines {
			if err := fn(line); err != nil {
				return err
			}
		}
		sent += len(p.Lines)
		if p.Next == nil {
			return nil
		}
		after = p.Next
	}
	return nil
}

func (d *dirSource) get(ctx context.Context, id string) ([]byte, error) {
	return d.st.Get(ctx, id)
}

func (d *dirSource) deleteID(ctx context.Context, id string) (int, error) {
	return d.st.DeleteID(ctx, id)
}

func (d *dirSource) deleteMatching(ctx context.Context, f *event.Filter, _ bool) (int, error) {
	return d.st.Delete(ctx, f)
}

// follow follows the files as the sidecar's stream does: after what m
// took (list -f), else from --since (replayed), else from now.
func (d *dirSource) follow(ctx context.Context, f *event.Filter, m *client.Mark, fn func([]byte) error) error {
	rest := *f
	rest.Since = time.Time{}
	since := f.Since
	if s := m.Since(); s.After(since) {
		since = s
	}
	return d.st.FollowEvents(ctx, &rest, store.FollowOptions{Since: since, Until: f.Before}, func(line []byte) error {
		if !m.Take(line) {
			return nil // printed by list -f already
		}
		return fn(line)
	})
}

// serverSource talks to a sidecar's admin port.
type serverSource struct {
	c    *client.Client
	warn io.Writer
}

var _ source = (*serverSource)(nil)

// each pages through the list, at most store.MaxLimit per page.
func (s *serverSource) each(ctx context.Context, f *event.Filter, limit int, fn func([]byte) error) error {
	cursor := ""
	for sent := 0; ; {
		size := store.MaxLimit
		if limit > 0 {
			size = min(size, limit-sent)
		}
		p, err := s.c.List(ctx, f, size, cursor)
		if err != nil {
			return err
		}
		for _, e := range p.Results {
			if err := fn(e); err != nil {
				return err
			}
		}
		sent += len(p.Results)
		if p.NextCursor == nil || limit > 0 && sent >= limit {
			return nil
		}
		cursor = *p.NextCursor
	}
}

func (s *serverSource) get(ctx context.Context, id string) ([]byte, error) {
	return s.c.Get(ctx, id)
}

func (s *serverSource) deleteID(ctx context.Context, id string) (int, error) {
	return s.c.Delete(ctx, id)
}

func (s *serverSource) deleteMatching(ctx context.Context, f *event.Filter, all bool) (int, error) {
	return s.c.DeleteMatching(ctx, f, all)
}

// follow reads the stream, and across a restart of the sidecar resumes
// after the last event printed, saying so on warn.
func (s *serverSource) follow(ctx context.Context, f *event.Filter, m *client.Mark, fn func([]byte) error) error {
	fl := &client.Follower{Client: s.c, Notice: func(msg string) { fmt.Fprintln(s.warn, "trailcar: follow:", msg) }}
	return fl.Follow(ctx, f, m, fn)
}
