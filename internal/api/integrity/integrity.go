// Package integrity serves GET /api/v3/integrity: the verdict of
// trailcar verify on the running trail, as JSON (docs/integrity.md "Verify").
package integrity

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/jsonhttp"
	"github.com/trailcar/trailcar/internal/store"
)

// Handler verifies the trail of one log dir.
type Handler struct {
	// Store reads the files: its snapshot is what is verified.
	Store *store.Store
	// Hold stops the writer and deletes while the files are opened (the
	// Sealer's lock), so the snapshot verified is one the writer left
	// whole. The verification itself runs after it is released.
	Hold sync.Locker
	// Public checks the checkpoints' signatures; nil: not checked.
	Public ed25519.PublicKey
	Logger *slog.Logger

	once sync.Once
	slot chan struct{} // one verification at a time
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(func() { h.slot = make(chan struct{}, 1) })
	rng, err := parseRange(r.URL.Query(), time.Now())
	if err != nil {
		jsonhttp.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	select {
	case h.slot <- struct{}{}:
		defer func() { <-h.slot }()
	case <-r.Context().Done():
		return // the caller left while another verification ran
	}
	h.Hold.Lock()
	snap, err := h.Store.Snapshot()
	h.Hold.Unlock()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer snap.Close()
	rep, err := integrity.VerifyWith(r.Context(), snap, h.Public, integrity.Options{Range: rng})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jsonhttp.Write(w, http.StatusOK, rep)
}

// parseRange reads since and before (the events filters' time forms);
// the error names the parameter.
func parseRange(q url.Values, now time.Time) (integrity.Range, error) {
	var rng integrity.Range
	for _, p := range []struct {
		name string
		to   *time.Time
	}{{"since", &rng.Since}, {"before", &rng.Before}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := event.ParseTime(v, now)
		if err != nil {
			return rng, fmt.Errorf("%s: %q: %v", p.name, v, err)
		}
		*p.to = t
	}
	if !rng.Since.IsZero() && !rng.Before.IsZero() && !rng.Since.Before(rng.Before) {
		return rng, errors.New("before: must be after since")
	}
	return rng, nil
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return
	}
	if h.Logger != nil {
		h.Logger.Error("integrity: verify", "err", err)
	}
	jsonhttp.Error(w, http.StatusInternalServerError, "could not verify the files: "+err.Error())
}
