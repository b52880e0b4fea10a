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
//
// Reading a directory is not atomic: a file renamed during the read (a
// .gz moved into place while its plain file is removed) may be returned
// under neither name. So the directory is read twice and what either read
// saw is listed; a file removed in between (retention) may then be listed
// although gone, which every reader handles as it handles a file removed
// after listing.
func List(dir, filename string) ([]Info, error) {
	prefix, ext := splitName(filename)
	var live *Info
	rotated := map[string]Info{} // by name without .gz
	for read := 0; read < 2; read++ {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("list audit files: %w", err)
		}
		for _, de := range entries {
			info, ok := listed(dir, de, filename, prefix, ext)
			switch {
			case !ok:
			case info.Live:
				live = &info
			default:
				base := strings.TrimSuffix(info.Name, gzSuffix)
				if have, seen := rotated[base]; !seen || info.Compressed || !have.Compressed {
					rotated[base] = info
				}
			}
		}
	}
	out := make([]Info, 0, len(rotated)+1)
	if live != nil {
		out = append(out, *live)
	}
	start := len(out)
	for _, r := range rotated {
		out = append(out, r)
	}
	sort.Slice(out[start:], func(i, j int) bool { return out[start+i].Rotated.After(out[start+j].Rotated) })
	return out, nil
}

// listed describes one directory entry, if it is an audit file.
func listed(dir string, de os.DirEntry, filename, prefix, ext string) (Info, bool) {
	name := de.Name()
	if !de.Type().IsRegular() || strings.HasPrefix(name, ".") {
		return Info{}, false
	}
	isLive := name == filename
	var when time.Time
	compressed := false
	if !isLive {
		var ok bool
		if when, compressed, ok = parseBackupName(name, prefix, ext); !ok {
			return Info{}, false
		}
	}
	fi, err := de.Info()
	if err != nil {
		return Info{}, false // removed while listing
	}
	return Info{Name: name, Path: filepath.Join(dir, name), Size: fi.Size(), ModTime: fi.ModTime(),
		Live: isLive, Compressed: compressed, Rotated: when}, true
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
