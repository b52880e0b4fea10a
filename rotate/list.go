package rotate

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// backupTimeFormat is lumberjack's: audit-2026-11-22T08-15-30.123.log.
const backupTimeFormat = "2006-01-02T15-04-05.000"

const gzSuffix = ".gz"

// Info describes one audit file.
type Info struct {
	Name       string    // base name, e.g. audit.log or audit-2026-11-22T08-15-30.123.log.gz
	Path       string    // full path
	Size       int64     // bytes on disk (compressed size for .gz)
	ModTime    time.Time // last modification
	Live       bool      // the file being written
	Compressed bool      // gzip
	Rotated    time.Time // when it was rotated, from its name; zero for the live file
}

// List returns the audit files in dir for the live file name filename,
// newest first: the live file (if it exists), then the rotated ones by the
// time in their names. Other files are not listed. When a rotated file and
// its .gz both exist (compression was interrupted after the .gz was
// complete), only the .gz is listed: it is whole, and listing both would
// count its events twice.
func List(dir, filename string) ([]Info, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list audit files: %w", err)
	}
	prefix, ext := splitName(filename)
	var live *Info
	var rotated []Info
	gz := map[string]bool{}
	for _, de := range entries {
		name := de.Name()
		if !de.Type().IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		isLive := name == filename
		var when time.Time
		compressed := false
		if !isLive {
			var ok bool
			when, compressed, ok = parseBackupName(name, prefix, ext)
			if !ok {
				continue
			}
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed while listing
		}
		info := Info{Name: name, Path: filepath.Join(dir, name), Size: fi.Size(), ModTime: fi.ModTime(),
			Live: isLive, Compressed: compressed, Rotated: when}
		if isLive {
			live = &info
			continue
		}
		if compressed {
			gz[strings.TrimSuffix(name, gzSuffix)] = true
		}
		rotated = append(rotated, info)
	}
	out := make([]Info, 0, len(rotated)+1)
	if live != nil {
		out = append(out, *live)
	}
	sort.Slice(rotated, func(i, j int) bool { return rotated[i].Rotated.After(rotated[j].Rotated) })
	for _, r := range rotated {
		if !r.Compressed && gz[r.Name] {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// splitName splits audit.log into "audit-" and ".log", as lumberjack does.
func splitName(filename string) (prefix, ext string) {
	ext = filepath.Ext(filename)
	return strings.TrimSuffix(filename, ext) + "-", ext
}

// parseBackupName reports whether name is a rotated file of prefix/ext,
// and when it was rotated.
func parseBackupName(name, prefix, ext string) (when time.Time, compressed, ok bool) {
	base := name
	if strings.HasSuffix(base, gzSuffix) {
		compressed = true
		base = strings.TrimSuffix(base, gzSuffix)
	}
	if !strings.HasPrefix(base, prefix) || !strings.HasSuffix(base, ext) {
		return time.Time{}, false, false
	}
	ts := base[len(prefix) : len(base)-len(ext)]
	when, err := time.Parse(backupTimeFormat, ts)
	if err != nil {
		return time.Time{}, false, false
	}
	return when, compressed, true
}

// backupName is the name lumberjack gives the live file when it rotates it at t.
func backupName(filename string, t time.Time) string {
	prefix, ext := splitName(filename)
	return prefix + t.UTC().Format(backupTimeFormat) + ext
}
