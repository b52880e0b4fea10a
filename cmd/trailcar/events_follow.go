package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/trailcar/trailcar/internal/event"
)

func newEventsFollowCmd(s streams, ef *eventsFlags) *cobra.Command {
	var f event.Filter
	var output string
	cmd := &cobra.Command{
		Use:   "follow [RESOURCE]",
		Short: "Print new matching events as they are written, until Ctrl-C",
		Long: `Print new matching events as they are written, until Ctrl-C. With --since,
first the matching events from that time on (rotated files included); with
--before, it ends once that time has passed. With --server it reads the
sidecar's event stream; with --dir it follows the files itself (across
rotation). -o json prints JSON Lines.`,
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
			var p printer
			switch output {
			case "table":
				p = &rowPrinter{w: s.out}
			case "json":
				p = &jsonPrinter{w: s.out}
			default:
				return usagef("-o %q: want table or json", output)
			}
			src, err := ef.source(cmd)
			if err != nil {
				return err
			}
			if err := src.follow(cmd.Context(), &f, p.print); err != nil {
				return err
			}
			if rp, ok := p.(*rowPrinter); ok && !rp.header && !f.Before.IsZero() {
				fmt.Fprintf(rp.w, rowFormat, "Timestamp", "Level", "Service", "Host", "Event", "ID")
				fmt.Fprintln(rp.w, "No events")
			}
			return nil
		},
	}
	addFilterFlags(cmd.Flags(), &f)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json (JSON Lines)")
	return cmd
}

// rowPrinter writes table rows one at a time, as they come: fixed widths,
// since the rows to come are unknown.
type rowPrinter struct {
	w      io.Writer
	header bool
}

const rowFormat = "%-27s  %-5s  %-12s  %-16s  %-32s  %s\n"

func (p *rowPrinter) print(line []byte) error {
	if !p.header {
		p.header = true
		fmt.Fprintf(p.w, rowFormat, "Timestamp", "Level", "Service", "Host", "Event", "ID")
	}
	var e event.Event
	if err := event.Decode(line, &e); err != nil {
		return errors.New("the server sent an event that does not decode")
	}
	what := eventColumn(&e)
	_, err := fmt.Fprintf(p.w, rowFormat, event.FormatTime(e.Time), e.Level, dash(e.Service), dash(e.Host), dash(what), e.ID)
	return err
}

func (p *rowPrinter) flush() error { return nil }
