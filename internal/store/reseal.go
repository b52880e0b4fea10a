package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
)

// With integrity on (Options.Seal), a delete rewrites each file it cuts
// from whole, line by line: the lines kept are chained again from where the
// file before ends, and every checkpoint of the file is made again for its
// new segment, signed, and marked resealed_by the delete's record. Files
// the delete does not touch are left as they are: the record lists, per
// rewritten file, the chain it ended with before and after, which is how
// verify follows the link from a rewritten file to the next one.

// ErrSealed refuses a delete on sealed files without the sealer: it could
// neither re-seal them nor record who deleted what (a delete from the
// files directly, with no sidecar).
var ErrSealed = errors.New("the files are sealed (integrity): delete through the sidecar (--server), which re-seals them and records the delete")

// Resealed is one file a delete rewrote and re-sealed: the chain after its
// last line before and after, and each checkpoint's chain before and
// after (so a copy of the checkpoints kept outside can still be matched:
// docs/integrity.md "Witness").
type Resealed struct {
	File        string
	OldChain    integrity.Digest
	NewChain    integrity.Digest
	Checkpoints []ResealedCheckpoint
}

// ResealedCheckpoint is one checkpoint a delete made again.
type ResealedCheckpoint struct {
	Seq                uint64
	OldChain, NewChain string
}

// Deletion is what a delete did.
type Deletion struct {
	Count int
	// Files rewritten and re-sealed (with integrity on).
	Files []Resealed
}

// resealer carries the chain across the files of one delete.
type resealer struct {
	seal *integrity.Sealer
	id   string // resealed_by: the id of the delete's record
	// after the rewritten files, by name: where their chain now ends
	newEnd map[string]integrity.State
	oldEnd map[string]integrity.Digest
	done   []Resealed
}

// startOf is where the chain stands before file i of sn (newest first):
// after the file before it, as rewritten or as it is.
func (st *Store) startOf(rs *resealer, sn *Snapshot, i int) (integrity.State, integrity.Digest, error) {
	if i+1 >= len(sn.srcs) {
		return integrity.State{}, integrity.Digest{}, nil // the oldest: its head is checked from a zero chain, or not at all
	}
	prev := sn.srcs[i+1]
	if end, ok := rs.newEnd[prev.info.Name]; ok {
		return end, rs.oldEnd[prev.info.Name], nil
	}
	r, err := prev.text()
	if errors.Is(err, fs.ErrNotExist) {
		return integrity.State{}, integrity.Digest{}, nil
	}
	if err != nil {
		return integrity.State{}, integrity.Digest{}, err
	}
	defer r.Close()
	end, err := integrity.Replay(r, integrity.State{})
	return end, end.Chain, err
}

// rewriteSealed rewrites one file without the lines cut drops, if it
// holds any, re-chaining and re-sealing it from start; oldStart is where
// the file's original chain started.
func (st *Store) rewriteSealed(ctx context.Context, rs *resealer, src *source, cut *cutFilter, start integrity.State, oldStart integrity.Digest) (int, error) {
	r, err := src.text()
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // removed by retention: nothing left to delete
	}
	if err != nil {
		return 0, err
	}
	defer r.Close()
	info := src.info
	// Read first, to know whether anything goes: most files of a delete
	// hold nothing of it.
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	dropped := 0
	forLines(data, func(line []byte) {
		t, _ := event.LineTime(line[:len(line)-1])
		if cut.drops(line[:len(line)-1], t) {
			dropped++
		}
	})
	if dropped == 0 {
		return 0, nil
	}
	// Where the file's chain ended before: from its own checkpoints, as
	// verify reads it.
	oldEnd, err := integrity.Replay(bytes.NewReader(data), integrity.State{Chain: oldStart, Seq: start.Seq})
	if err != nil {
		return 0, err
	}
	old := oldEnd.Chain
	var h integrity.Hasher
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	rw := &rewriter{path: info.Path, gz: info.Compressed, mode: src.mode, src: bytes.NewReader(nil)}
	defer rw.abort()
	if err := rw.start(0); err != nil {
		return 0, err
	}
	s := start
	var werr error
	var cps []ResealedCheckpoint
	forLines(data, func(line []byte) {
		if werr != nil {
			return
		}
		body := line[:len(line)-1]
		if integrity.IsCheckpoint(line) {
			var out []byte
			var rc ResealedCheckpoint
			out, rc, werr = st.resealCheckpoint(rs, body, s)
			seq := rc.Seq
			cps = append(cps, rc)
			if werr == nil {
				werr = rw.line(out)
				s.Seal(&h, seq, append(out, '\n'))
			}
			return
		}
		t, _ := event.LineTime(body)
		if cut.drops(body, t) {
			return
		}
		if rec, ok := integrity.ParseReopen(body); ok {
			s.Follow(rec) // after a file moved away, the chain goes on from where the record says
		}
		s.Add(&h, line)
		werr = rw.line(body)
	})
	if werr != nil {
		return 0, werr
	}
	if err := rw.finish(0, 0); err != nil {
		return 0, err
	}
	rs.newEnd[info.Name] = s
	rs.oldEnd[info.Name] = old
	rs.done = append(rs.done, Resealed{File: info.Name, OldChain: old, NewChain: s.Chain, Checkpoints: cps})
	return dropped, nil
}

// resealCheckpoint makes a checkpoint line again for the segment s has
// just sealed: same id, time, seq and file; new lines, ids, chain and
// prev; signed; resealed_by the delete. It returns the line (without its
// newline), and its seq with its chain before and after.
func (st *Store) resealCheckpoint(rs *resealer, line []byte, s integrity.State) ([]byte, ResealedCheckpoint, error) {
	c, e, err := integrity.ParseCheckpoint(line)
	if err != nil {
		return nil, ResealedCheckpoint{}, fmt.Errorf("re-seal: %w", err)
	}
	rc := ResealedCheckpoint{Seq: c.Seq, OldChain: c.Chain, NewChain: s.Chain.String()}
	c.Lines, c.FirstID, c.LastID = s.Lines, s.FirstID, s.LastID
	c.Chain, c.Prev = s.Chain.String(), s.LastCP.String()
	c.ResealedBy = rs.id
	c.Sign(rs.seal.Key())
	e.Message = fmt.Sprintf("checkpoint %d: %d lines sealed", c.Seq, c.Lines)
	e.Details = c.Details()
	out, err := event.AppendJSON(nil, e)
	if err != nil {
		return nil, rc, fmt.Errorf("re-seal: %w", err)
	}
	return bytes.TrimSuffix(out, []byte("\n")), rc, nil
}

// forLines calls fn with each line of data, its newline included; a torn
// tail (no newline) is left out.
func forLines(data []byte, fn func(line []byte)) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return
		}
		fn(data[:i+1])
		data = data[i+1:]
	}
}

// sealedFiles reports whether any audit file holds a checkpoint. Each
// file is read line by line (a line's head tells a checkpoint), newest
// first, until one is found.
func (st *Store) sealedFiles() (bool, error) {
	sn, err := st.Snapshot()
	if err != nil {
		return false, err
	}
	defer sn.Close()
	for _, src := range sn.srcs {
		r, err := src.text()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by retention
		}
		if err != nil {
			return false, err
		}
		found, err := holdsCheckpoint(r)
		r.Close()
		if found || err != nil {
			return found, err
		}
	}
	return false, nil
}

func holdsCheckpoint(r io.Reader) (bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	atStart := true
	for {
		frag, err := br.ReadSlice('\n')
		if atStart && integrity.IsCheckpoint(frag) {
			return true, nil
		}
		atStart = err == nil // a longer line goes on in the next fragment
		switch {
		case err == io.EOF:
			return false, nil
		case err != nil && err != bufio.ErrBufferFull:
			return false, err
		}
	}
}
