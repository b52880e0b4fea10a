package main

import (
	"bufio"

	"github.com/spf13/cobra"

	"github.com/trailcar/trailcar/internal/event"
)

func newEventsListCmd(s streams, ef *eventsFlags) *cobra.Command {
	var f event.Filter
	var limit int
	var all, full bool
	var output string
	cmd := &cobra.Command{
		Use:   "list [RESOURCE]",
		Short: "List events, newest first",
		Long: `List events, newest first: 100 by default, --limit N, or --all.

RESOURCE is a glob matched against resource.id when the event has one,
else against req.path. -o json prints JSON Lines: one event per line, as
stored, fields in their stored order.`,
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
			if all && cmd.Flags().Changed("limit") {
				return usagef("--all lists every event: leave out --limit")
			}
			if limit < 1 {
				return usagef("--limit %d: want at least 1", limit)
			}
			if all {
				limit = 0
			}
			out := bufio.NewWriterSize(s.out, 64<<10)
			p, err := newPrinter(output, full, out)
			if err != nil {
				return err
			}
			src, err := ef.source(cmd)
			if err != nil {
				return err
			}
			err = src.each(cmd.Context(), &f, limit, p.print)
			if ferr := p.flush(); err == nil {
				err = ferr
			}
			if ferr := out.Flush(); err == nil {
				err = ferr
			}
			return err
		},
	}
	fl := cmd.Flags()
	addFilterFlags(fl, &f)
	fl.IntVar(&limit, "limit", 100, "how many events")
	fl.BoolVar(&all, "all", false, "every event (pages through all of them)")
	fl.StringVarP(&output, "output", "o", "table", "table, json (JSON Lines) or yaml")
	fl.BoolVar(&full, "full", false, "table: add User, Method, Path, Status, Address")
	return cmd
}
