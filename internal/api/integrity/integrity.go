// Package integrity serves GET /api/v3/integrity: the verdict of
// trailcar verify on the running trail, as JSON (docs/integrity.md "Verify").
package integrity

import (
	"crypto/ed25519"
	"log/slog"
	"net/http"
	"sync"

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
	rep, err := integrity.Verify(r.Context(), snap, h.Public)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	jsonhttp.Write(w, http.StatusOK, rep)
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
