package integrity

import (
	"encoding/json"
	"fmt"

	"github.com/trailcar/trailcar/internal/event"
)

// What verify makes of the writer's records of an outside hand on the live
// file (docs/integrity.md "Outside rotation"): a file moved away (its
// reopen record says where the chain stood: rotated-out, no tampering),
// and a file deleted, truncated or replaced (its lines are gone: missing).

// followsGap reports whether a reopen record comes after checkpoints
// the files do not hold: the file it sealed was moved away.
func (v *verifier) followsGap(rec Reopen) bool {
	if v.haveCP {
		return rec.Seq > v.lastSeq
	}
	return rec.Seq > 0
}

// rotateOut reports the checkpoints before the reopen record rec (line,
// in file src named file) as rotated out, and goes on from where the
// record says the chain stood: the lines after it are checked from there.
// It returns how many rows it added to the report.
func (v *verifier) rotateOut(src int, rec Reopen, line []byte, file string) int {
	if rec.Reason != "moved" {
		return v.reopenedAfterGap(src, rec, file)
	}
	rows := 1
	first := uint64(1)
	what := fmt.Sprintf("checkpoints up to %d", rec.Seq)
	if v.haveCP && rec.HasSince && rec.Since > v.lastSeq {
		// The writer knew checkpoints up to Since were in a file it
		// rotated itself, which stays in the dir: they are gone.
		v.reports = append(v.reports, FileReport{Name: fmt.Sprintf("(between %s and %s)", v.lastName, file), Status: StatusMissing,
			Detail: fmt.Sprintf("missing between %s and %s: checkpoints %d to %d are gone (files moved away hold only %d to %d)",
				v.lastName, file, v.lastSeq+1, rec.Since, rec.Since+1, rec.Seq)})
		v.lastSeq = rec.Since
		rows++
	}
	if v.haveCP {
		first = v.lastSeq + 1
		what = fmt.Sprintf("checkpoints %d to %d", first, rec.Seq)
		if first == rec.Seq {
			what = fmt.Sprintf("checkpoint %d", first)
		}
	}
	where := "a file moved away"
	if rec.MovedTo != "" {
		where = rec.MovedTo + ", moved away"
	}
	id, _ := event.LineID(line)
	at, _ := event.LineTime(line)
	v.reports = append(v.reports, FileReport{Name: fmt.Sprintf("(rotated out before %s)", file), Status: StatusRotatedOut,
		Detail: fmt.Sprintf("%s, with the lines they seal, in %s (system.audit.reopened %s at %s)", what, where, id, at)})
	// The witness: seqs first..rec.Seq-1 are gone from here by design;
	// rec.Seq's chain is in the record, and is compared.
	v.rotatedOut = append(v.rotatedOut, [2]uint64{first, rec.Seq - 1})
	v.follow(src, rec)
	return rows
}

// reopenedAfterGap meets a reopen record in place (SIGHUP with the file
// where it was) past checkpoints the files do not hold: no file was moved
// away, so they are missing, unless nothing comes before (the files
// before were removed by retention: the chain starts here). It returns
// the rows it added.
func (v *verifier) reopenedAfterGap(src int, rec Reopen, file string) int {
	rows := 0
	if v.haveCP {
		v.reports = append(v.reports, FileReport{Name: fmt.Sprintf("(between %s and %s)", v.lastName, file), Status: StatusMissing,
			Detail: fmt.Sprintf("missing between %s and %s: checkpoints %d to %d are gone", v.lastName, file, v.lastSeq+1, rec.Seq)})
		rows++
	}
	v.follow(src, rec)
	return rows
}

// follow goes on from where the reopen record rec (in file src) says the
// chain stood.
func (v *verifier) follow(src int, rec Reopen) {
	v.noteSeq(src, fileCP{src: src, chain: rec.Chain.String(), noPrev: true}, rec.Seq)
	v.s, v.lastCP, v.lastSeq, v.haveCP, v.startAssumed = rec.From, rec.Chain, rec.Seq, true, false
	v.lastSealedState, v.afterBadCP = rec.From, false
	v.segFirst, v.segLast = "", v.segLast[:0]
}

// lost reports what a system.audit.file_replaced record (line n of file)
// says is gone: the live file of that moment, deleted, truncated or
// replaced from outside. The record says when, not that it was allowed.
func (v *verifier) lost(line []byte, n int, file string) {
	var e struct {
		ID      string `json:"id"`
		Time    string `json:"eventTime"`
		Details struct {
			Reason string `json:"reason"`
		} `json:"details"`
	}
	if json.Unmarshal(line, &e) != nil || e.Details.Reason == "" {
		e.Details.Reason = "replaced"
	}
	v.reports = append(v.reports, FileReport{Name: fmt.Sprintf("(lost before line %d of %s)", n, file), Status: StatusMissing,
		Detail: fmt.Sprintf("the live file was %s from outside at %s (system.audit.file_replaced %s): what it held after the last checkpoint before is gone", e.Details.Reason, e.Time, e.ID)})
}
