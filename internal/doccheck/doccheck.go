// Package doccheck keeps the references to the docs true. Code, scripts and
// examples cite the docs by file and heading, as
//
//	docs/events.md "Which requests become events"
//	README "Guarantees"
//	docs/cluster.md
//
// (a comment may wrap the heading across lines, and `"A" and "B"` or
// `"A", "B"` cite two headings of one file), and the README and docs/ link
// each other with relative Markdown links. Check finds every such reference
// under a repository root and reports each one whose file or heading does
// not exist, and every Markdown link that leaves the repository: the docs
// describe this code, so they cite nothing outside it.
//
// In Markdown, citations are read in prose and in fenced blocks but not in
// inline code spans, which is where the docs show the citation syntax itself.
package doccheck

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Problem is one reference that does not resolve.
type Problem struct {
	File string // slash-separated, relative to the root
	Line int
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Report is what Check found: the references that do not resolve, in file
// and line order, and how many references of each kind it checked.
type Report struct {
	Problems  []Problem
	Citations int // references to README.md or a file under docs/
	Links     int // Markdown links
}

// Check reads every file under root that may cite the docs and reports the
// references that do not resolve. Directories named testdata, and hidden
// ones other than .ci, are skipped, as go skips them.
func Check(root string) (Report, error) {
	c := &checker{root: root, headings: map[string]*headingSet{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") && name != ".ci") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !scanned(rel) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		c.file(rel, string(data))
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("check docs references under %s: %w", root, err)
	}
	slices.SortStableFunc(c.report.Problems, func(a, b Problem) int {
		if n := strings.Compare(a.File, b.File); n != 0 {
			return n
		}
		return a.Line - b.Line
	})
	return c.report, nil
}

// scanned: the files that cite the docs: source, scripts, configs and
// manifests, the docs themselves, and CI's scripts (which have no extension).
func scanned(rel string) bool {
	switch path.Ext(rel) {
	case ".go", ".md", ".sh", ".yaml", ".yml", ".conf", ".json", ".js", ".css", ".html":
		return true
	}
	return path.Base(rel) == "Dockerfile" || strings.HasPrefix(rel, ".ci/")
}

type checker struct {
	root     string
	headings map[string]*headingSet // by slash path; nil when the file does not exist
	report   Report
}

func (c *checker) fail(file string, line int, format string, args ...any) {
	c.report.Problems = append(c.report.Problems, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// wrap is what a comment line break looks like inside a citation: a
// newline and the next line's comment marker.
const wrap = `[ \t]*\n[ \t]*(?://+|#+|\*)?[ \t]*`

var (
	// A citation: README or a path under docs/, then optionally one or
	// more quoted headings. The leading group keeps "xdocs/" and
	// "a/docs/" from counting.
	citation = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])(README|docs/[A-Za-z0-9_./-]*[A-Za-z0-9_-])` +
		`((?:[ \t]+|` + wrap + `)"(?:[^"\n]|` + wrap + `)+"(?:(?:,|[ \t]+and|` + wrap + `and)(?:[ \t]+|` + wrap + `)"(?:[^"\n]|` + wrap + `)+")*)?`)
	quoted    = regexp.MustCompile(`"((?:[^"\n]|` + wrap + `)+)"`)
	lineBreak = regexp.MustCompile(wrap)
	// Markdown links and images, inline and reference-style, and autolinks.
	inlineLink = regexp.MustCompile(`!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`(?m)^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*<?([^\s>]+)>?`)
	autoLink   = regexp.MustCompile(`<([A-Za-z][A-Za-z0-9+.-]*:[^>\s]+)>`)
	scheme     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	codeSpan   = regexp.MustCompile("`+[^`\n]*`+")
)

func (c *checker) file(rel, text string) {
	md := path.Ext(rel) == ".md"
	cites := text
	if md {
		// A link's target is checked as a link, not again as a citation.
		cites = inlineLink.ReplaceAllStringFunc(blankCodeSpans(text), func(s string) string {
			i := strings.Index(s, "](")
			return s[:i+2] + strings.Repeat(" ", len(s)-i-3) + ")"
		})
	}
	for _, m := range citation.FindAllStringSubmatchIndex(cites, -1) {
		target := cites[m[2]:m[3]]
		line := 1 + strings.Count(cites[:m[2]], "\n")
		var heads []string
		if m[4] >= 0 {
			for _, q := range quoted.FindAllStringSubmatch(cites[m[4]:m[5]], -1) {
				heads = append(heads, lineBreak.ReplaceAllString(q[1], " "))
			}
		}
		c.citation(rel, line, target, heads)
	}
	if md {
		c.links(rel, blankCodeSpans(text))
	}
}

// citation checks one reference: the file exists and, for each heading
// cited, has a heading with that text.
func (c *checker) citation(rel string, line int, target string, heads []string) {
	c.report.Citations++
	file := target
	if target == "README" {
		file = "README.md"
	}
	hs := c.load(file)
	if hs == nil {
		c.fail(rel, line, "%s: no such file", file)
		return
	}
	if len(heads) > 0 && path.Ext(file) != ".md" {
		c.fail(rel, line, "%s %q: headings are only cited in Markdown files", file, heads[0])
		return
	}
	for _, h := range heads {
		if !hs.hasText(h) {
			c.fail(rel, line, "%s has no heading %q", file, h)
		}
	}
}

// links checks the Markdown links of a file (code blocks and spans left
// out): each stays in the repository, names a file that exists and, with
// a #fragment, a heading of that file.
func (c *checker) links(rel, text string) {
	text = blankFences(text)
	var targets [][]int
	for _, re := range []*regexp.Regexp{inlineLink, refLink, autoLink} {
		for _, m := range re.FindAllStringSubmatchIndex(text, -1) {
			targets = append(targets, m[2:4])
		}
	}
	for _, t := range targets {
		target := text[t[0]:t[1]]
		line := 1 + strings.Count(text[:t[0]], "\n")
		c.report.Links++
		if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
			c.fail(rel, line, "link %s leaves the repository", target)
			continue
		}
		if strings.HasPrefix(target, "/") {
			c.fail(rel, line, "link %s: use a path relative to %s", target, rel)
			continue
		}
		file, frag, _ := strings.Cut(target, "#")
		if file == "" {
			file = rel
		} else {
			file = path.Join(path.Dir(rel), file)
		}
		if file == ".." || strings.HasPrefix(file, "../") {
			c.fail(rel, line, "link %s leaves the repository", target)
			continue
		}
		if !c.exists(file) {
			c.fail(rel, line, "link %s: no such file %s", target, file)
			continue
		}
		if frag == "" {
			continue
		}
		hs := c.load(file)
		if hs == nil || path.Ext(file) != ".md" {
			c.fail(rel, line, "link %s: %s has no headings to point into", target, file)
		} else if !hs.slugs[frag] {
			c.fail(rel, line, "link %s: %s has no heading with the anchor #%s", target, file, frag)
		}
	}
}

func (c *checker) exists(file string) bool {
	_, err := os.Stat(filepath.Join(c.root, filepath.FromSlash(file)))
	return err == nil
}

// load returns the headings of a file under the root, or nil if it does
// not exist or is not a regular file.
func (c *checker) load(file string) *headingSet {
	if hs, ok := c.headings[file]; ok {
		return hs
	}
	var hs *headingSet
	data, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(file)))
	if err == nil {
		hs = parseHeadings(string(data))
	}
	c.headings[file] = hs
	return hs
}

// headingSet holds a Markdown file's ATX headings, by text and by the
// anchor GitHub gives them.
type headingSet struct {
	texts map[string]bool
	slugs map[string]bool
}

func (h *headingSet) hasText(s string) bool {
	return h.texts[s] || h.texts[plain(s)]
}

func parseHeadings(text string) *headingSet {
	hs := &headingSet{texts: map[string]bool{}, slugs: map[string]bool{}}
	seen := map[string]int{}
	for _, l := range strings.Split(blankFences(text), "\n") {
		trimmed := strings.TrimLeft(l, " ")
		if len(l)-len(trimmed) > 3 {
			continue
		}
		level := len(trimmed) - len(strings.TrimLeft(trimmed, "#"))
		if level == 0 || level > 6 || len(trimmed) > level && trimmed[level] != ' ' && trimmed[level] != '\t' {
			continue
		}
		h := strings.TrimSpace(trimmed[level:])
		h = strings.TrimSpace(strings.TrimRight(h, "#"))
		hs.texts[h] = true
		hs.texts[plain(h)] = true
		slug := slugOf(h)
		if n := seen[slug]; n > 0 {
			hs.slugs[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			hs.slugs[slug] = true
		}
		seen[slug]++
	}
	return hs
}

// plain is a heading's text without Markdown's emphasis and code marks.
func plain(s string) string {
	return strings.NewReplacer("`", "", "*", "").Replace(s)
}

// slugOf is the anchor GitHub makes for a heading: lower case, letters,
// digits, '-' and '_' kept, spaces made '-', everything else dropped.
func slugOf(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(plain(h)) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// blankFences replaces the lines of fenced code blocks with empty ones,
// keeping the line count, so that '#' comments and sample links inside
// them count as neither headings nor links.
func blankFences(text string) string {
	lines := strings.Split(text, "\n")
	fence := ""
	for i, l := range lines {
		t := strings.TrimLeft(l, " ")
		switch {
		case fence == "" && (strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")):
			fence = t[:3]
			lines[i] = ""
		case fence != "":
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// blankCodeSpans replaces inline code spans (outside fenced blocks) with
// spaces of the same length.
func blankCodeSpans(text string) string {
	lines := strings.Split(text, "\n")
	fence := ""
	for i, l := range lines {
		t := strings.TrimLeft(l, " ")
		if fence == "" && (strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")) {
			fence = t[:3]
			continue
		}
		if fence != "" {
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
			continue
		}
		lines[i] = codeSpan.ReplaceAllStringFunc(l, func(s string) string { return strings.Repeat(" ", len(s)) })
	}
	return strings.Join(lines, "\n")
}
