package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trailcar/trailcar/internal/client"
	"github.com/trailcar/trailcar/internal/event"
)

func newEventsFollowCmd(s streams, ef *eventsFlags) *cobra.Command {
	var f event.Filter
	var output string
	var to tableOptions
	cmd := &cobra.Command{
		Use:   "follow [RESOURCE]",
		Short: "Print new matching events as they are written, until Ctrl-C",
		Long: `Print new matching events as they are written, until Ctrl-C. With --since,
first the matching events from that time on (rotated files included); with
--before, it ends once that time has passed. With --server it reads the
sidecar's event stream, and when the sidecar restarts it resumes right after
the last event printed (a note on stderr); no server for 30 s is exit 1.
With --dir it follows the files itself (across rotation). -o json prints
JSON Lines.`,
		Args: maxArgs(1, "[RESOURCE]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if err := f.Set("resource", args[0]); err != nil {
					return usagef("RESOURCE: %v", err)
				}
			}
			if err := compileFilter(&f); err != nil {
				return err
			}
			p, err := newFollowPrinter(output, to, s.out)
			if err != nil {
				return err
			}
			src, err := ef.source(cmd)
			if err != nil {
				return err
			}
			return followAfter(cmd, src, &f, &client.Mark{}, p)
		},
	}
	fl := cmd.Flags()
	addFilterFlags(fl, &f)
	addTableFlags(fl.BoolVar, &to)
	fl.StringVarP(&output, "output", "o", "table", "table, wide (table with --full) or json (JSON Lines)")
	return cmd
}

// addTableFlags adds --full and --no-headers.
func addTableFlags(boolVar func(p *bool, name string, value bool, usage string), to *tableOptions) {
	boolVar(&to.full, "full", false, "table: add User, Method, Path, Status, Address (as -o wide)")
	boolVar(&to.noHeaders, "no-headers", false, "table: no header line, and nothing for no events")
}

// newFollowPrinter is the printer of a follow: rows printed as they come.
func newFollowPrinter(format string, to tableOptions, w io.Writer) (printer, error) {
	switch format {
	case "table", "wide":
		to.full = to.full || format == "wide"
		return &rowPrinter{w: w, tableOptions: to}, nil
	case "json":
		return &jsonPrinter{w: w}, nil
	}
	return nil, usagef("-o %q: want table, wide or json", format)
}

// followAfter follows src after what m took, printing with p; a table
// that ends (--before) with no row says so.
func followAfter(cmd *cobra.Command, src source, f *event.Filter, m *client.Mark, p printer) error {
	if err := src.follow(cmd.Context(), f, m, p.print); err != nil {
		return err
	}
	if rp, ok := p.(*rowPrinter); ok && !rp.header && !rp.noHeaders && !f.Before.IsZero() {
		rp.writeHeader()
		fmt.Fprintln(rp.w, "No events")
	}
	return nil
}

// rowPrinter writes table rows one at a time, as they come: fixed widths,
// since the rows to come are unknown.
type rowPrinter struct {
	w io.Writer
	tableOptions
	header bool
}

// rowWidths are the columns' widths (tableColumns), the last one free.
var rowWidths = []int{27, 5, 12, 16, 32, 32, 16, 7, 40, 6}

func (p *rowPrinter) line(cells []string) error {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString("  ")
		}
		b.WriteString(c)
		if i < len(cells)-1 && i < len(rowWidths) {
			b.WriteString(strings.Repeat(" ", max(0, rowWidths[i]-len(c))))
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(p.w, b.String())
	return err
}

func (p *rowPrinter) writeHeader() {
	if !p.header && !p.noHeaders {
		p.header = true
		p.line(tableColumns(p.full))
	}
}

func (p *rowPrinter) print(line []byte) error {
	p.writeHeader()
	var e event.Event
	if err := event.Decode(line, &e); err != nil {
		return errors.New("the server sent an event that does not decode")
	}
	return p.line(tableRow(&e, p.full))
}

func (p *rowPrinter) flush() error { return nil }
