package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/ship"
)

// newShipper builds the shipper of ship.enabled (docs/shipping.md): it
// reads the log dir as any reader does, so it needs nothing of the
// writer but its wake-up.
func (s *Sidecar) newShipper() error {
	if !s.cfg.Ship.Enabled {
		return nil
	}
	t := s.cfg.ActivityTracker
	sh, err := ship.New(ship.Options{
		Config: s.cfg.Ship, Dir: t.Dir, Filename: t.Filename,
		Service: s.cfg.Service, Host: s.cfg.Host,
		Wake: s.writer.Written, Metrics: ship.NewMetrics(s.reg), Logger: s.log.With("component", "ship"),
		Report: s.shipReport,
	})
	if err != nil {
		return &ConfigError{Key: "ship", Err: err}
	}
	s.shipper = sh
	return nil
}

// shipReport records lines the store will never have as a system event
// (system.ship.rejected, system.ship.lost), which is shipped in turn.
func (s *Sidecar) shipReport(r ship.Report) {
	d := (&event.Details{}).Int("count", int64(r.Count))
	msg := fmt.Sprintf("the log store rejected %d lines; they are not sent again", r.Count)
	if r.Kind == "lost" {
		d.String("from", r.From).String("to", r.To)
		msg = fmt.Sprintf("%d lines were pruned by retention before they were shipped; the log store will not have them", r.Count)
	} else {
		d.String("reason", r.Reason)
		if len(r.Batch) > 0 {
			// OTLP's partial success counts, it does not name: the
			// batch the rejected lines were in.
			if batch, err := json.Marshal(r.Batch); err == nil {
				d.JSON("batch", batch)
			}
			d.String("from", r.From).String("to", r.To)
		} else if ids, err := json.Marshal(r.IDs); err == nil {
			d.JSON("ids", ids)
		}
	}
	s.emitSystem("system.ship."+r.Kind, event.LevelError, msg, d.Object())
}

// shipFinish bounds how long shutdown waits for the shipper to send the
// last lines, then the batch in flight, before giving the batch up (it
// is sent again at the next start: the position was not saved).
const shipFinish = 10 * time.Second

// runShipper starts the shipper, if any, and returns the function that
// ends it at shutdown, once the writer has written its last lines.
// Shipping never blocks the proxy: it only reads the files.
func (s *Sidecar) runShipper() (finish func() error) {
	if s.shipper == nil {
		return func() error { return nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := s.shipper.Run(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("shipper stopped; lines are no longer shipped until a restart", "err", err)
		}
		done <- err
	}()
	return func() error {
		defer cancel()
		s.shipper.Finish()
		select {
		case err := <-done:
			return err
		case <-time.After(shipFinish):
		}
		s.shipper.Stop()
		select {
		case err := <-done:
			return err
		case <-time.After(shipFinish / 2):
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			return err
		}
		s.log.Warn("shipper stopped with a batch undelivered; it is sent again at the next start")
		return nil
	}
}
