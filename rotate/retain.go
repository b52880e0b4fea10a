package rotate

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// retainLoop compresses and removes rotated files after each rotation.
func (f *File) retainLoop() {
	defer f.done.Done()
	for {
		select {
		case <-f.stop:
			return
		case <-f.retain:
		}
		f.filesMu.Lock()
		err := f.applyRetention(time.Now())
		f.filesMu.Unlock()
		if err != nil {
			f.log.Error("audit file retention", "dir", f.opts.Dir, "err", err)
		}
	}
}

// applyRetention removes rotated files beyond MaxFiles and older than
// MaxAgeDays, then compresses the rest if Compress is set. filesMu is held.
func (f *File) applyRetention(now time.Time) error {
	files, err := List(f.opts.Dir, f.opts.Filename)
	if err != nil {
		return err
	}
	marks, err := f.asides.load()
	if err != nil {
		return err
	}
	var errs []error
	kept := 0
	// A file a delete rotated aside goes with the next newer file that
	// counts (aside.go): the one last seen, newest first; the live file,
	// which is never removed, for the first ones.
	partnerRemoved := false
	present := map[string]bool{}
	var newestCounting time.Time
	for _, fi := range files {
		if fi.Live {
			kept++
			continue
		}
		base := strings.TrimSuffix(fi.Name, gzSuffix)
		_, aside := marks[base]
		remove := partnerRemoved
		if !aside {
			tooMany := f.opts.MaxFiles > 0 && kept >= f.opts.MaxFiles
			tooOld := f.opts.MaxAgeDays > 0 && now.Sub(fi.Rotated) > time.Duration(f.opts.MaxAgeDays)*24*time.Hour
			remove, partnerRemoved = tooMany || tooOld, tooMany || tooOld
			if newestCounting.IsZero() {
				newestCounting = fi.Rotated
			}
		}
		if remove {
			if err := os.Remove(fi.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		present[base] = true
		if !aside {
			kept++
		}
		if f.opts.Compress && !fi.Compressed {
			if err := compressFile(fi.Path, f.opts.FileMode); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(marks) > 0 {
		prefix, ext := splitName(f.opts.Filename)
		if err := f.asides.prune(present, newestCounting, prefix, ext); err != nil {
			errs = append(errs, err)
		}
	}
	// An uncompressed file whose .gz is complete is left over from an
	// interrupted compression: List hides it; remove it.
	if f.opts.Compress {
		if leftovers, err := filepath.Glob(filepath.Join(f.opts.Dir, "*"+gzSuffix)); err == nil {
			for _, gz := range leftovers {
				plain := gz[:len(gz)-len(gzSuffix)]
				if exists(plain) {
					os.Remove(plain)
				}
			}
		}
	}
	// Temporary files of a compression, or of the record of files
	// rotated aside, that was interrupted by a crash.
	prefix, _ := splitName(f.opts.Filename)
	tmps, _ := filepath.Glob(filepath.Join(f.opts.Dir, "."+prefix+"*"+gzSuffix+".tmp"))
	for _, tmp := range tmps {
		os.Remove(tmp)
	}
	f.asides.mu.Lock() // none of ours is being written meanwhile
	asideTmps, _ := filepath.Glob(filepath.Join(f.opts.Dir, AsideFile+".tmp-*"))
	for _, tmp := range asideTmps {
		os.Remove(tmp)
	}
	f.asides.mu.Unlock()
	return errors.Join(errs...)
}

// compressFile writes path.gz through a dot-named temporary file, syncs
// it, renames it into place and only then removes path, so that at every
// moment one whole copy exists under a listed name.
func compressFile(path string, mode os.FileMode) (err error) {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	defer src.Close()
	dir, base := filepath.Split(path)
	tmp := filepath.Join(dir, "."+base+gzSuffix+".tmp")
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			dst.Close()
			os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(dst)
	if _, err = io.Copy(zw, src); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	if err = zw.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	if err = dst.Sync(); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	if err = dst.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	if err = os.Rename(tmp, path+gzSuffix); err != nil {
		return fmt.Errorf("compress %s: %w", path, err)
	}
	return os.Remove(path)
}
