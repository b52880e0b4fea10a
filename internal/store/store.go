// Package store is the query engine over the audit files: the live file
// and the rotated ones (gzipped too) are the store, with no database and
// no index.
//
// It is the one reader of the trail: the queries, the file routes,
// follow, delete, and verify and the chain's recovery in the integrity
// package (through Snapshot) all open the files by one rule (openListed:
// regular files only, never a symlink; a file compressed since it was
// listed read as its .gz) and take a Snapshot the same way (a rotation
// between listing and opening is retried).
//
// Lines in a file are in eventTime order and files are newest first, so
// reading newest first means reading each file backwards from its end, in
// blocks, stopping as soon as enough events are found. eventTime is
// fixed-width text, so time bounds compare bytes and skip whole files by
// their first line, and a binary search by time finds where to start
// inside a file. Filters judge each line on its raw bytes
// (event.LineFilter) and decode only the lines they cannot judge that way.
//
// Memory does not grow with the size of the logs: a paged scan holds one
// block (at most 1 MiB, plus one line); a full scan (Each) filters chunks
// of 256 KiB on all cores, a fixed set of them in flight. Gzip files
// cannot be read backwards: one that must be scanned is decompressed once
// per scan, into memory when it is small (up to 8 MiB) and otherwise into
// an unlinked temporary file, which is then read backwards like the
// others.
package store

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/trailcar/trailcar/internal/integrity"
)

// Locker is what the store needs of the rotating file (*rotate.File) to
// rewrite rotated files while the writer keeps appending.
type Locker interface {
	// WithRotated runs fn while no rotated file is compressed or removed.
	WithRotated(fn func() error) error
}

// Options configure a Store.
type Options struct {
	Dir      string // the audit log directory
	Filename string // the live file's name; "" means audit.log
	// Lock guards rewrites (Delete) against retention. nil means no
	// writer runs: the files are rewritten without coordination.
	Lock Locker
	// RotateLive rotates the live file aside for a delete that would cut
	// from it (*audit.Writer.RotateForDelete: the writer ends it after
	// every line queued, with its checkpoint when sealed, and renames it
	// to a rotated name). nil means no writer runs: the live file is
	// renamed aside directly (rotate.MoveAside).
	RotateLive func(ctx context.Context) error
	// Seal, with integrity on, re-seals the files a delete rewrites.
	Seal *integrity.Sealer
	// RefuseSealed, without Seal, refuses a delete on sealed files
	// (ErrSealed): for a reader of the files that could neither re-seal
	// them nor record the delete (the CLI's --dir). A sidecar with
	// integrity off deletes as asked; verify then says what changed.
	RefuseSealed bool
	// TempDir holds decompressed copies of large gzip files while they
	// are read; "" means os.TempDir().
	TempDir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Store reads, and deletes from, the audit files of one directory. It is
// safe for concurrent use.
type Store struct {
	opts     Options
	deleteMu sync.Mutex // one rewrite at a time
	// afterList, if set, runs after each listing of the files: tests
	// rotate, compress or swap files there, between a listing and the
	// opens that follow it.
	afterList func()
}

// ErrNotFound is returned for an event id that is in no file.
var ErrNotFound = errors.New("event not found")

// New returns a Store over opts.Dir.
func New(opts Options) *Store {
	if opts.Filename == "" {
		opts.Filename = "audit.log"
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Store{opts: opts}
}

// Stats describe what a read went through.
type Stats struct {
	// Invalid counts lines that do not decode (torn by a crash, edited),
	// skipped.
	Invalid int
	// Files is how many files were read (not skipped by time).
	Files int
}
