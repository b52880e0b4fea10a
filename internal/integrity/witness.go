package integrity

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Witness is a copy of checkpoints kept outside the log dir: what a
// webhook receiver keeps, or an export from a log store (docs/integrity.md
// "Witness"). The files alone cannot show that their newest lines were
// cut with their last checkpoint, or that the whole dir was rolled back
// to an older copy; held against a witness, they can.
type Witness struct {
	// byHost holds each host's checkpoints by seq; a seq may have
	// several values (a dir rolled back and written on makes a second
	// checkpoint of the same seq, and a receiver keeps both).
	byHost  map[string]map[uint64][]witnessCP
	skipped int
}

type witnessCP struct{ prev, chain string }

// maxWitnessLine bounds one line of a witness file (a batch of envelopes
// is one line).
const maxWitnessLine = 64 << 20

// ReadWitness reads a witness: one JSON value per line, each an event, a
// webhook envelope ({"notification_type":…,"event":{…}}), a batch (an
// array of envelopes) or a store hit ({"_source":{…}}). Checkpoints are
// kept; lines that are none of these, or hold no checkpoint, are skipped.
func ReadWitness(r io.Reader) (*Witness, error) {
	w := &Witness{byHost: map[string]map[uint64][]witnessCP{}}
	br := bufio.NewReaderSize(r, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > maxWitnessLine {
			return nil, fmt.Errorf("line %d: over %d MiB", n, maxWitnessLine>>20)
		}
		if line = bytes.TrimSpace(line); len(line) > 0 && !w.value(line, 0) {
			w.skipped++
		}
		if errors.Is(err, io.EOF) {
			return w, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// value takes the checkpoints of one JSON value, reporting whether it
// held any. depth bounds the nesting it follows (batch, envelope, event).
func (w *Witness) value(data []byte, depth int) bool {
	if depth > 3 {
		return false
	}
	if len(data) > 0 && data[0] == '[' {
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return false
		}
		found := false
		for _, it := range items {
			found = w.value(it, depth+1) || found
		}
		return found
	}
	var v struct {
		Type    string          `json:"type"`
		Host    string          `json:"host"`
		Details json.RawMessage `json:"details"`
		Event   json.RawMessage `json:"event"`
		Source  json.RawMessage `json:"_source"`
	}
	if json.Unmarshal(data, &v) != nil {
		return false
	}
	switch {
	case v.Event != nil:
		return w.value(v.Event, depth+1)
	case v.Source != nil:
		return w.value(v.Source, depth+1)
	case v.Type != CheckpointType:
		return false
	}
	var c Checkpoint
	if json.Unmarshal(v.Details, &c) != nil {
		return false
	}
	if _, err := ParseDigest(c.Chain); err != nil {
		return false
	}
	if _, err := ParseDigest(c.Prev); err != nil {
		return false
	}
	seqs := w.byHost[v.Host]
	if seqs == nil {
		seqs = map[uint64][]witnessCP{}
		w.byHost[v.Host] = seqs
	}
	cp := witnessCP{prev: c.Prev, chain: c.Chain}
	if !slices.Contains(seqs[c.Seq], cp) {
		seqs[c.Seq] = append(seqs[c.Seq], cp)
	}
	return true
}

// Hosts are the hosts the witness holds checkpoints of, sorted.
func (w *Witness) Hosts() []string {
	var out []string
	for h := range w.byHost {
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}

// WitnessReport says what a witness held for the verification.
type WitnessReport struct {
	// Host is the host whose checkpoints were used.
	Host string `json:"host"`
	// Checkpoints is how many of them (distinct seq and value).
	Checkpoints int `json:"checkpoints"`
	// Skipped counts the lines that held no checkpoint.
	Skipped int `json:"skipped"`
}

// noteCheckpoint keeps what a witness is held against.
func (v *verifier) noteCheckpoint(src int, c *Checkpoint, host string) {
	if v.cpHost == "" {
		v.cpHost = host
	}
	v.noteSeq(src, fileCP{src: src, prev: c.Prev, chain: c.Chain, resealedBy: c.ResealedBy}, c.Seq)
}

// noteSeq keeps a checkpoint of seq, as file src holds it or copies it.
func (v *verifier) noteSeq(src int, f fileCP, seq uint64) {
	v.cps[seq] = append(v.cps[seq], f)
	r, ok := v.srcSeqs[src]
	if !ok {
		r[0] = seq
	}
	r[1] = seq
	v.srcSeqs[src] = r
}

// holdAgainst compares the witness's checkpoints of host with the files'
// of the same seq, over the files checked (srcs, oldest first); newest
// says the newest of them is the dir's newest, so a witness checkpoint
// past every file's is missing from it (a cut tail, a rollback) rather
// than beyond the range.
func (v *verifier) holdAgainst(w *Witness, host string, srcs []int, newest bool) *WitnessReport {
	wr := &WitnessReport{Host: host, Skipped: w.skipped}
	seqs := w.byHost[host]
	checked := map[int]bool{}
	var lo, hi uint64
	have := false
	for _, src := range srcs {
		checked[src] = true
		if r, ok := v.srcSeqs[src]; ok {
			if !have || r[0] < lo {
				lo = r[0]
			}
			hi = max(hi, r[1])
			have = true
		}
	}
	order := make([]uint64, 0, len(seqs))
	for seq := range seqs {
		order = append(order, seq)
	}
	slices.Sort(order)
	type span struct{ first, last uint64 }
	missing := map[int]*span{} // report -> the witness seqs it lacks
	for _, seq := range order {
		for _, wcp := range seqs[seq] {
			wr.Checkpoints++
			if fcps := v.inChecked(seq, checked); len(fcps) > 0 {
				v.compare(seq, wcp, fcps)
				continue
			}
			idx, ok := v.lacking(seq, srcs, have, lo, hi, newest)
			if !ok {
				continue
			}
			if m := missing[idx]; m == nil {
				missing[idx] = &span{seq, seq}
			} else {
				m.last = seq
			}
		}
	}
	for idx, m := range missing {
		what := fmt.Sprintf("witness seq %d", m.first)
		if m.last != m.first {
			what = fmt.Sprintf("witness seq %d to %d", m.first, m.last)
		}
		v.reports[idx].set(StatusMissing, what+": not in the files (lines cut off with their checkpoints, or the dir rolled back)")
	}
	return wr
}

// inChecked is the files' checkpoints of seq in the files checked.
func (v *verifier) inChecked(seq uint64, checked map[int]bool) []fileCP {
	var out []fileCP
	for _, f := range v.cps[seq] {
		if checked[f.src] {
			out = append(out, f)
		}
	}
	return out
}

// compare judges one witness checkpoint against the files' of its seq:
// equal, or re-sealed by deletes whose records lead back from the files'
// chain to the witness's, is fine; else the file is broken.
func (v *verifier) compare(seq uint64, wcp witnessCP, fcps []fileCP) {
	for _, f := range fcps {
		if f.chain == wcp.chain && (f.noPrev || f.prev == wcp.prev) {
			return
		}
		if f.resealedBy != "" && v.resealedFrom(seq, f.chain, wcp.chain) {
			return
		}
	}
	f := fcps[0]
	v.reports[v.srcReport[f.src]].set(StatusBroken, fmt.Sprintf("witness seq %d: the witness has chain %s, the file %s", seq, short(wcp.chain), short(f.chain)))
}

// resealedFrom reports whether delete records lead from chain now (a
// re-sealed checkpoint of seq) back to chain was: each record lists, per
// checkpoint it re-sealed, the chain before and after.
func (v *verifier) resealedFrom(seq uint64, now, was string) bool {
	ends := map[string]bool{now: true}
	for grew := true; grew && !ends[was]; {
		grew = false
		for _, d := range v.deletes {
			for _, f := range d.Files {
				for _, c := range f.Checkpoints {
					if c.Seq == seq && ends[c.NewChain] && !ends[c.OldChain] {
						ends[c.OldChain], grew = true, true
					}
				}
			}
		}
	}
	return ends[was]
}

// lacking says which report a witness seq absent from the files is
// missing from: the file whose seq range holds it (or the first after the
// gap it falls in), or the newest file when it is past them all. ok is
// false when it is not missing: below the files' lowest (pruned by
// retention, or before the range) or past the range.
func (v *verifier) lacking(seq uint64, srcs []int, have bool, lo, hi uint64, newest bool) (int, bool) {
	for _, r := range v.rotatedOut {
		if r[0] <= seq && seq <= r[1] {
			return 0, false // in a file moved away (outside rotation)
		}
	}
	switch {
	case have && seq < lo:
		return 0, false
	case !have || seq > hi:
		if !newest || len(srcs) == 0 {
			return 0, false
		}
		idx, ok := v.srcReport[srcs[len(srcs)-1]]
		return idx, ok
	}
	for _, src := range srcs {
		if r, ok := v.srcSeqs[src]; ok && seq <= r[1] {
			idx, ok := v.srcReport[src]
			return idx, ok
		}
	}
	return 0, false
}

func short(chain string) string { return chain[:min(len(chain), 16)] }
