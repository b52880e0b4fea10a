// Package integrity serves GET /api/v3/integrity: the verdict of
// trailcar verify on the running trail, as JSON (docs/integrity.md "Verify").
package integrity

import (
	"cmp"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/trailcar/trailcar/internal/cluster"
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
	// Cluster, if set, is the pod's peers: scope=cluster (the default
	// then, as for the events API) asks each for its own verdict
	// (scope=local) and answers one report per pod.
	Cluster *cluster.Cluster
	// Host names this pod in a cluster's answer.
	Host   string
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
	wide := h.Cluster != nil
	switch scope := r.URL.Query().Get("scope"); scope {
	case "":
	case "local":
		wide = false
	case "cluster":
	default:
		jsonhttp.Error(w, http.StatusBadRequest, fmt.Sprintf("scope: %q: want cluster or local", scope))
		return
	}
	var peers chan []integrity.PodReport
	if wide {
		// Asked meanwhile, and outside this pod's slot: a peer verifying
		// its cluster at the same moment asks this pod in turn.
		peers = make(chan []integrity.PodReport, 1)
		go func() { peers <- h.askPeers(r) }()
	}
	rep, ok := h.verifyLocal(w, r, rng)
	if !ok {
		return
	}
	if !wide {
		jsonhttp.Write(w, http.StatusOK, rep)
		return
	}
	out := integrity.ClusterReport{Pods: append([]integrity.PodReport{{Host: h.Host, Report: &rep}}, <-peers...)}
	out.Judge()
	jsonhttp.Write(w, http.StatusOK, out)
}

// verifyLocal verifies this pod's files, one verification at a time; on
// false the answer was written (or the caller left).
func (h *Handler) verifyLocal(w http.ResponseWriter, r *http.Request, rng integrity.Range) (integrity.Report, bool) {
	select {
	case h.slot <- struct{}{}:
		defer func() { <-h.slot }()
	case <-r.Context().Done():
		return integrity.Report{}, false // the caller left while another verification ran
	}
	h.Hold.Lock()
	snap, err := h.Store.Snapshot()
	h.Hold.Unlock()
	if err != nil {
		h.fail(w, r, err)
		return integrity.Report{}, false
	}
	defer snap.Close()
	rep, err := integrity.VerifyWith(r.Context(), snap, h.Public, integrity.Options{Range: rng})
	if err != nil {
		h.fail(w, r, err)
		return integrity.Report{}, false
	}
	return rep, true
}

// askPeers asks every peer for its own verdict (scope=local), in
// parallel within the cluster's timeout; a peer that did not answer is
// listed with why (the answer is then partial).
func (h *Handler) askPeers(r *http.Request) []integrity.PodReport {
	q := url.Values{"scope": {"local"}}
	for _, k := range []string{"since", "before"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	states, answers := h.Cluster.Ask(r.Context(), http.MethodGet, "/api/v3/integrity", q, cluster.Auth(r, "application/json"))
	var pods []integrity.PodReport
	for i, st := range states {
		pod := integrity.PodReport{Host: cmp.Or(st.Host, st.URL), Error: st.Error}
		if a := answers[i]; a != nil {
			var peer integrity.Report
			if err := json.Unmarshal(a.Body, &peer); err != nil {
				pod.Error = "its answer does not decode: " + err.Error()
			} else {
				pod.Report = &peer
			}
			a.Release()
		}
		if pod.Report == nil && pod.Error == "" {
			pod.Error = "no answer"
		}
		pods = append(pods, pod)
	}
	return pods
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
