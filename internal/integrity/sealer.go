package integrity

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/trailcar/trailcar/internal/event"
)

// State is where the chain stands after the last line written.
type State struct {
	Chain  Digest // after the last line
	Seq    uint64 // of the last checkpoint; 0 before the first
	LastCP Digest // chain of the last checkpoint: the next one's prev
	// The segment since the last checkpoint.
	Lines           int
	FirstID, LastID string
	// Kept is the last checkpoint known to be in a file that stays in the
	// log dir (one trailcar rotated itself): a file moved away from
	// outside holds only later ones, and its reopen record says so, so
	// verify tells a file moved away from one deleted before it
	// (docs/integrity.md "Outside rotation"). 0: not known.
	Kept uint64
}

// Add chains one line (an event, newline included) that is not a
// checkpoint into the segment.
func (st *State) Add(h *Hasher, line []byte) {
	st.Chain = h.Next(st.Chain, line)
	st.Lines++
	if id, ok := event.LineID(line); ok {
		if st.FirstID == "" {
			st.FirstID = string(id)
		}
		st.LastID = string(id)
	}
}

// Seal records that checkpoint seq, encoded as line (newline included),
// sealed the segment: a new segment starts after it.
func (st *State) Seal(h *Hasher, seq uint64, line []byte) {
	st.Seq, st.LastCP = seq, st.Chain
	st.Chain = h.Next(st.Chain, line)
	st.Lines, st.FirstID, st.LastID = 0, "", ""
}

// Sealer keeps the running chain of a log dir. The audit writer chains
// every line it writes and asks for checkpoints; a delete that rewrites the
// live file sets the state it leaves. Both hold its lock (Lock, before the
// file's own lock) while they write: lines are chained in the order they
// reach the file.
type Sealer struct {
	mu   sync.Mutex
	key  ed25519.PrivateKey
	file string
	st   State // its LastID is kept in lastID instead
	h    Hasher
	// lastID is the last line's id, in a buffer of its own: chaining a
	// line does not allocate.
	lastID []byte
}

// NewSealer continues from st (Recover); key, if set, signs checkpoints;
// file is the live file's name, recorded in checkpoints.
func NewSealer(st State, key ed25519.PrivateKey, file string) *Sealer {
	s := &Sealer{key: key, file: file}
	s.SetState(st)
	return s
}

// Lock and Unlock guard the chain; the methods below need it held.
func (s *Sealer) Lock()   { s.mu.Lock() }
func (s *Sealer) Unlock() { s.mu.Unlock() }

// Key is the signing key, nil when checkpoints are not signed.
func (s *Sealer) Key() ed25519.PrivateKey { return s.key }

// Line chains one line (an event, newline included) that is not a
// checkpoint: State.Add, keeping the last id without allocating (it is on
// the path of every line written).
func (s *Sealer) Line(line []byte) {
	s.st.Chain = s.h.Next(s.st.Chain, line)
	s.st.Lines++
	if id, ok := event.LineID(line); ok {
		if s.st.FirstID == "" {
			s.st.FirstID = string(id) // once a segment
		}
		s.lastID = append(s.lastID[:0], id...)
	}
}

// Pending is how many lines the next checkpoint would seal.
func (s *Sealer) Pending() int { return s.st.Lines }

// Checkpoint is the (signed) checkpoint of the current segment. Nothing
// changes until Sealed says its line was written.
func (s *Sealer) Checkpoint() Checkpoint {
	c := Checkpoint{Seq: s.st.Seq + 1, File: s.file, Lines: s.st.Lines, FirstID: s.st.FirstID, LastID: string(s.lastID),
		Chain: s.st.Chain.String(), Prev: s.st.LastCP.String()}
	c.Sign(s.key)
	return c
}

// Sealed records that the checkpoint c, encoded as line (newline
// included), was written.
func (s *Sealer) Sealed(c Checkpoint, line []byte) {
	s.st.Seal(&s.h, c.Seq, line)
	s.lastID = s.lastID[:0]
}

// State is where the chain stands.
func (s *Sealer) State() State {
	st := s.st
	st.LastID = string(s.lastID)
	return st
}

// SetState sets where the chain stands, after the live file was
// rewritten and re-sealed.
func (s *Sealer) SetState(st State) {
	kept := s.st.Kept // a rewrite does not move files out of the dir
	s.st, s.lastID = st, append(s.lastID[:0], st.LastID...)
	s.st.LastID = ""
	s.st.Kept = max(st.Kept, kept)
}

// Rotated records that the live file, ending with the last checkpoint,
// was rotated by trailcar: it stays in the dir.
func (s *Sealer) Rotated() { s.st.Kept = s.st.Seq }

// Replay advances st over the lines of r (events, one per line), trusting
// the checkpoints it meets, and the reopen records that follow a file
// moved away (State.Follow): it is how a restart finds where the chain
// stands.
func Replay(r io.Reader, st State) (State, error) {
	var h Hasher
	err := forEachLine(r, func(line []byte) error {
		if rec, ok := ParseReopen(line); ok {
			st.Follow(rec)
		}
		if IsCheckpoint(line) {
			if c, _, err := ParseCheckpoint(line[:len(line)-1]); err == nil {
				st.Chain, _ = ParseDigest(c.Chain) // trusted: the segment before it is not re-checked
				st.Seal(&h, c.Seq, line)
				return nil
			}
		}
		st.Add(&h, line)
		return nil
	})
	return st, err
}

// Recover finds where the chain of the files (newest first, as
// Verify takes them) stands: from the newest file holding a checkpoint
// (or a reopen record, which says where the chain stood),
// over the files written after it; from the start (a zero chain) over
// every file when none holds one. A file removed meanwhile is passed
// over.
func Recover(files Files) (State, error) {
	from := files.Len() - 1 // oldest
	for i := range files.Len() {
		has, err := holdsChain(files, i)
		if err != nil {
			return State{}, err
		}
		if has {
			from = i
			break
		}
	}
	var st State
	var kept uint64
	for i := from; i >= 0; i-- {
		r, err := files.Text(i)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return State{}, err
		}
		st, err = Replay(r, st)
		r.Close()
		if err != nil {
			return State{}, fmt.Errorf("%s: %w", files.Info(i).Name, err)
		}
		if !files.Info(i).Live {
			kept = st.Seq
		}
	}
	if kept == 0 && from == 0 && files.Len() > 1 {
		// The chain was found in the live file: the last checkpoint of
		// the newest rotated file holding one is what stays.
		k, err := keptBefore(files)
		if err != nil {
			return State{}, err
		}
		kept = k
	}
	st.Kept = kept
	return st, nil
}

// holdsChain reports whether file i holds a checkpoint or a reopen
// record: where the chain stands can be found from it on.
func holdsChain(files Files, i int) (bool, error) {
	has, err := holds(files, i, checkpointTypeText)
	if err == nil && !has {
		has, err = holds(files, i, reopenedTypeText)
	}
	return has, err
}

// keptBefore is the last checkpoint seq of the newest rotated file that
// holds one; 0 when none does.
func keptBefore(files Files) (uint64, error) {
	for i := 1; i < files.Len(); i++ {
		r, err := files.Text(i)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		var last uint64
		err = forEachLine(r, func(line []byte) error {
			if IsCheckpoint(line) {
				if c, _, err := ParseCheckpoint(line[:len(line)-1]); err == nil {
					last = c.Seq
				}
			}
			return nil
		})
		r.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", files.Info(i).Name, err)
		}
		if last > 0 {
			return last, nil
		}
	}
	return 0, nil
}

// holds reports whether file i's text holds b.
func holds(files Files, i int, b []byte) (bool, error) {
	r, err := files.Text(i)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	found := false
	err = forEachLine(r, func(line []byte) error {
		if bytes.Contains(line, b) {
			found = true
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return found, err
}

var errStop = errors.New("stop")

// maxLine bounds a line read here; a longer one is passed in pieces (it
// is no event, and chains all the same).
const maxLine = 4 << 20

// forEachLine calls fn with each line of r, its newline included; bytes
// after the last newline are passed last, as they are (a torn tail).
func forEachLine(r io.Reader, fn func(line []byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var long []byte
	for {
		frag, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, frag...)
			if len(long) > maxLine {
				if err := fn(long); err != nil {
					return err
				}
				long = long[:0]
			}
			continue
		}
		line := frag
		if len(long) > 0 {
			long = append(long, frag...)
			line = long
		}
		if len(line) > 0 {
			if ferr := fn(line); ferr != nil {
				return ferr
			}
		}
		long = long[:0]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
