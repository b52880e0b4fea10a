package integrity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/trailcar/trailcar/internal/event"
)

// File statuses, best first.
const (
	StatusOK           = "ok"
	StatusRotatedOut   = "rotated-out"   // checkpoints in a file moved away, as a reopen record says
	StatusResealed     = "resealed"      // rewritten by an audited delete, and re-sealed
	StatusUnsealed     = "unsealed"      // lines after the last checkpoint
	StatusBadSignature = "bad-signature" // a checkpoint's signature is not the key's
	StatusBroken       = "broken"        // a segment's lines do not give its checkpoint's chain
	StatusMissing      = "missing"       // a file inside the chain is gone
)

var severity = map[string]int{StatusOK: 0, StatusRotatedOut: 1, StatusResealed: 1, StatusUnsealed: 2, StatusBadSignature: 3, StatusBroken: 4, StatusMissing: 5}

// FileReport is the verdict on one file.
type FileReport struct {
	Name        string `json:"name"`
	Status      string `json:"status"`
	Detail      string `json:"detail,omitempty"`
	Lines       int    `json:"lines"`
	Checkpoints int    `json:"checkpoints"`
	Live        bool   `json:"live,omitempty"`

	resealedBy string
}

// Report is the verdict on a log dir, files oldest first.
type Report struct {
	// Intact is false when any file is broken, missing, badly signed, or
	// unsealed without being the live file.
	Intact bool `json:"intact"`
	// KeyID names the public key signatures were checked with; "" when
	// none was given (signatures not checked).
	KeyID string `json:"key_id,omitempty"`
	// Since and Before are the range verified (RFC 3339), when one was
	// given: only the files whose lines overlap it are in Files.
	Since  string `json:"since,omitempty"`
	Before string `json:"before,omitempty"`
	// Witness says what the witness held, when one was given.
	Witness *WitnessReport `json:"witness,omitempty"`
	Files   []FileReport   `json:"files"`
}

// Tampered reports whether the file's status shows tampering.
func (f *FileReport) Tampered() bool {
	switch f.Status {
	case StatusOK, StatusResealed, StatusRotatedOut:
		return false
	case StatusUnsealed:
		return !f.Live // the live file of a running sidecar is always a little ahead
	}
	return true
}

// set records a finding; the worst one stays, with its detail.
func (f *FileReport) set(status, detail string) {
	if severity[status] > severity[f.Status] {
		f.Status, f.Detail = status, detail
	}
}

// deleteRecord is what verify needs of a system.events.deleted event.
type deleteRecord struct {
	Files []struct {
		File        string `json:"file"`
		OldChain    string `json:"old_chain"`
		NewChain    string `json:"new_chain"`
		Checkpoints []struct {
			Seq      uint64 `json:"seq"`
			OldChain string `json:"old_chain"`
			NewChain string `json:"new_chain"`
		} `json:"checkpoints"`
	} `json:"files"`
}

// pendingLink is a file whose first checkpoint did not follow from the
// file before it: the one before may have been rewritten by a delete,
// whose record (later in the trail) says what it was chained from.
type pendingLink struct {
	file, prevFile int // indexes in the report
	prev           string
	prevFinal      Digest // the chain after the file before, as read
	// prevSealed is the chain after the last checkpoint of the file
	// before, when lines follow it there (appended after it was sealed).
	prevSealed *Digest
	src        int // the file, in the Files
	cp         *Checkpoint
	upto       int // lines before its first checkpoint
}

type verifier struct {
	pub ed25519.PublicKey
	h   Hasher

	s            Digest // the chain after the last line read
	startAssumed bool   // s is the zero chain of the dir's start, assumed: earlier files may be gone
	haveCP       bool
	lastSeq      uint64
	lastCP       Digest
	lastName     string
	lastUnsealed bool // the file before ended with lines after its last checkpoint
	// lastSealedState is the chain right after the last checkpoint line
	// read.
	lastSealedState Digest
	afterBadCP      bool // the last checkpoint's signature was not the key's
	// The ids of the first and last lines since the last checkpoint.
	segFirst string
	segLast  []byte // a buffer of its own: no allocation per line

	files     Files
	reports   []FileReport            // one a file read, oldest first
	deletes   map[string]deleteRecord // by event id
	resealers map[string]int          // resealed_by id -> a file naming it (in the Files)
	pending   []pendingLink

	// What a witness is held against: every checkpoint read, by seq;
	// the host of the first; each file's report and seq range.
	cps       map[uint64][]fileCP
	cpHost    string
	srcReport map[int]int
	srcSeqs   map[int][2]uint64
	// rotatedOut are the seq ranges (inclusive) of checkpoints in files
	// moved away, as reopen records say: a witness seq there is not
	// missing.
	rotatedOut [][2]uint64
}

// fileCP is a checkpoint as the files hold it, or as a reopen record
// copies it (noPrev: the record carries its chain only).
type fileCP struct {
	src         int
	prev, chain string
	resealedBy  string
	noPrev      bool
}

func (v *verifier) file(src int) error {
	r, err := v.files.Text(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed since it was listed
	}
	if err != nil {
		return err
	}
	defer r.Close()
	info := v.files.Info(src)
	rep := FileReport{Name: info.Name, Status: StatusOK, Live: info.Live}
	idx := len(v.reports)
	n, segStart, segLines := 0, 1, 0
	firstCP := true
	atStart := v.s // the chain this file starts from
	err = forEachLine(r, func(line []byte) error {
		n++
		if rec, ok := ParseReopen(line); ok {
			switch {
			case v.haveCP && rec.Seq < v.lastSeq:
				rep.set(StatusBroken, fmt.Sprintf("line %d: a reopen record of checkpoint seq %d after checkpoint %d", n, rec.Seq, v.lastSeq))
			case v.followsGap(rec):
				if segLines > 0 && n > 1 {
					rep.set(StatusBroken, fmt.Sprintf("lines %d-%d: before a reopen record, sealed by no checkpoint", segStart, n-1))
				}
				idx += v.rotateOut(src, rec, line, info.Name)
				segStart, segLines = n, 0
			}
		}
		if hasType(line, replacedTypeText) {
			v.lost(line, n, info.Name)
			idx++
		}
		if !IsCheckpoint(line) {
			v.s = v.h.Next(v.s, line)
			segLines++
			if id, ok := event.LineID(line); ok {
				if v.segFirst == "" {
					v.segFirst = string(id)
				}
				v.segLast = append(v.segLast[:0], id...)
			}
			if hasType(line, deletedTypeText) {
				v.noteDelete(line)
			}
			return nil
		}
		c, e, perr := ParseCheckpoint(bytes.TrimSuffix(line, []byte("\n")))
		if perr != nil {
			rep.set(StatusBroken, fmt.Sprintf("line %d: a checkpoint that does not decode: %v", n, perr))
			v.s = v.h.Next(v.s, line)
			return nil
		}
		v.noteCheckpoint(src, c, e.Host)
		rep.Checkpoints++
		v.check(&rep, idx, src, c, n, segStart, segLines, firstCP, atStart)
		firstCP = false
		cp, _ := ParseDigest(c.Chain)
		v.lastCP, v.lastSeq, v.haveCP, v.startAssumed = cp, c.Seq, true, false
		v.s = v.h.Next(cp, line) // on from the checkpoint: one broken segment does not break the rest
		v.lastSealedState = v.s
		segStart, segLines = n+1, 0
		v.segFirst, v.segLast = "", v.segLast[:0]
		return nil
	})
	if err != nil {
		return err
	}
	rep.Lines = n
	if segLines > 0 {
		rep.set(StatusUnsealed, fmt.Sprintf("%d lines after the last checkpoint", segLines))
	}
	if rep.Status == StatusOK && rep.resealedBy != "" {
		rep.Status, rep.Detail = StatusResealed, "by "+rep.resealedBy
	}
	v.srcReport[src] = len(v.reports)
	v.reports = append(v.reports, rep)
	v.lastName, v.lastUnsealed = info.Name, segLines > 0
	return nil
}

// check judges one checkpoint c at line n, sealing lines segStart to n-1.
func (v *verifier) check(rep *FileReport, idx, src int, c *Checkpoint, n, segStart, segLines int, firstCP bool, atStart Digest) {
	// A checkpoint line found altered makes the chain after it unknown:
	// the segment that follows it cannot be checked (it is not blamed).
	afterBad := v.afterBadCP
	v.afterBadCP = false
	if v.pub != nil && !c.VerifySig(v.pub) {
		rep.set(StatusBadSignature, fmt.Sprintf("checkpoint seq %d", c.Seq))
		v.afterBadCP = true
	}
	if c.ResealedBy != "" {
		if v.resealers == nil {
			v.resealers = map[string]int{}
		}
		v.resealers[c.ResealedBy] = src // its report is not appended yet, and a "missing between" row may come first
		rep.resealedBy = c.ResealedBy
	}
	lines := fmt.Sprintf("lines %d-%d", segStart, n-1)
	if segStart > n-1 {
		lines = fmt.Sprintf("line %d", n)
	}
	name := v.files.Info(src).Name
	gap := v.haveCP && c.Seq != v.lastSeq+1
	switch {
	case gap && firstCP && v.lastUnsealed:
		// The file before ends without its last checkpoints: it was cut.
		prev := &v.reports[len(v.reports)-1]
		prev.set(StatusBroken, fmt.Sprintf("cut short: its end, with checkpoints %d to %d, is gone", v.lastSeq+1, c.Seq-1))
		return
	case gap && firstCP:
		v.reports = append(v.reports, FileReport{Name: fmt.Sprintf("(between %s and %s)", v.lastName, name), Status: StatusMissing,
			Detail: fmt.Sprintf("missing between %s and %s: checkpoints %d to %d are gone", v.lastName, name, v.lastSeq+1, c.Seq-1)})
		return // the chain goes on from here
	case gap:
		rep.set(StatusBroken, fmt.Sprintf("%s: checkpoint seq %d follows %d", lines, c.Seq, v.lastSeq))
		return
	}
	sealed := v.s.String() == c.Chain && segLines == c.Lines
	if sealed && (c.FirstID != v.segFirst || c.LastID != string(v.segLast)) && !v.startAssumed {
		rep.set(StatusBroken, fmt.Sprintf("checkpoint seq %d: first_id/last_id are not its segment's", c.Seq))
	}
	switch {
	case sealed:
	case v.startAssumed && c.Seq > 1:
		// Earlier files were removed (retention): the chain starts here.
		if rep.Detail == "" {
			rep.Detail = fmt.Sprintf("the chain starts at checkpoint seq %d (the files before were removed); %d lines before it cannot be checked", c.Seq, segLines)
		}
	case afterBad:
	case firstCP && v.lastName != "":
		// The file before may have been rewritten by a delete: its
		// record says what this one was chained from. Judged at the end.
		p := pendingLink{file: idx, prevFile: len(v.reports) - 1, prev: v.lastName, prevFinal: atStart, src: src, cp: c, upto: n - 1}
		if v.lastUnsealed {
			sealed := v.lastSealedState
			p.prevSealed = &sealed
		}
		v.pending = append(v.pending, p)
	default:
		rep.set(StatusBroken, fmt.Sprintf("%s (expected chain %s, got %s)", lines, c.Chain[:16], v.s.String()[:16]))
	}
	if sealed && v.haveCP && c.Prev != v.lastCP.String() && !(firstCP && v.lastName != "") {
		rep.set(StatusBroken, fmt.Sprintf("checkpoint seq %d: prev is not the chain of checkpoint %d", c.Seq, v.lastSeq))
	}
}

func (v *verifier) noteDelete(line []byte) {
	var e struct {
		ID      string       `json:"id"`
		Type    string       `json:"type"`
		Details deleteRecord `json:"details"`
	}
	if json.Unmarshal(line, &e) == nil && e.Type == DeletedType {
		v.deletes[e.ID] = e.Details
	}
}

// resolve judges what could only be judged with the whole trail read: the
// links after rewritten files, and that every resealed_by names a delete.
func (v *verifier) resolve() error {
	for _, p := range v.pending {
		ok, err := v.relink(p)
		if err != nil {
			return err
		}
		rep := &v.reports[p.file]
		switch {
		case ok:
		case v.reports[p.prevFile].Tampered():
			// The file before was tampered with (its end changed): this
			// one's link to it cannot be checked, and is not blamed.
			if rep.Detail == "" {
				rep.Detail = fmt.Sprintf("lines 1-%d follow %s, which was tampered with: not checkable", p.upto, p.prev)
			}
		default:
			rep.set(StatusBroken, fmt.Sprintf("lines 1-%d (expected chain %s): they do not follow from %s", p.upto, p.cp.Chain[:16], p.prev))
		}
	}
	for id, src := range v.resealers {
		idx := v.srcReport[src]
		if _, ok := v.deletes[id]; !ok {
			v.reports[idx].set(StatusBroken, "resealed_by "+id+" names no system.events.deleted event in the trail")
		}
	}
	return nil
}

// relink re-reads the first segment of p's file from the chain the file
// before had ended with before deletes rewrote it, as the deletes' records
// list it. The file before may have been rewritten by several deletes
// that left p's file alone (they matched nothing in it): each record links
// one end to the one before, so the ends are followed back through all of
// them.
func (v *verifier) relink(p pendingLink) (bool, error) {
	prev := strings.TrimSuffix(p.prev, ".gz")
	ends := map[string]bool{p.prevFinal.String(): true}
	var starts []Digest
	for grew := true; grew; {
		grew = false
		for _, d := range v.deletes {
			for _, f := range d.Files {
				if strings.TrimSuffix(f.File, ".gz") != prev || !ends[f.NewChain] || ends[f.OldChain] {
					continue
				}
				if o, err := ParseDigest(f.OldChain); err == nil {
					ends[f.OldChain], grew = true, true
					starts = append(starts, o)
				}
			}
		}
	}
	if p.prevSealed != nil {
		starts = append(starts, *p.prevSealed) // lines appended to the file before after its last checkpoint
	}
	for _, start := range starts {
		if ok, err := v.chainsTo(p, start); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// chainsTo reports whether the first segment of p's file, chained from
// start, gives its first checkpoint.
func (v *verifier) chainsTo(p pendingLink, old Digest) (bool, error) {
	r, err := v.files.Text(p.src)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	s, n := old, 0
	var h Hasher
	err = forEachLine(r, func(line []byte) error {
		if n++; n > p.upto {
			return errStop
		}
		s = h.Next(s, line)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return false, err
	}
	return s.String() == p.cp.Chain && p.upto == p.cp.Lines, nil
}

// WriteTable writes the report as a table: one line per file, its status,
// and the detail.
func (r Report) WriteTable(w io.Writer) {
	width := 4
	for _, f := range r.Files {
		width = max(width, len(f.Name))
	}
	r.writeRows(w, width, "")
	if r.Witness != nil {
		fmt.Fprintf(w, "witness: %d checkpoints of host %q (%d lines without one skipped)\n", r.Witness.Checkpoints, r.Witness.Host, r.Witness.Skipped)
	}
	switch {
	case len(r.Files) == 0 && (r.Since != "" || r.Before != ""):
		fmt.Fprintln(w, "no audit files in the range")
	case len(r.Files) == 0:
		fmt.Fprintln(w, "no audit files")
	case r.Intact && r.KeyID == "":
		fmt.Fprintln(w, "intact (signatures not checked: give --public-key)")
	case r.Intact:
		fmt.Fprintf(w, "intact, signed by key %s\n", r.KeyID)
	default:
		fmt.Fprintln(w, "TAMPERED")
	}
}

// writeRows writes one line per file, its name after prefix (a cluster's
// pod: "host/"), in a column width wide.
func (r Report) writeRows(w io.Writer, width int, prefix string) {
	for _, f := range r.Files {
		detail := f.Detail
		if f.Status == StatusUnsealed && f.Live {
			detail += " (the live file: normal while trailcar runs)"
		}
		fmt.Fprintf(w, "%-*s  %-13s  %s\n", width, prefix+f.Name, f.Status, detail)
	}
}
