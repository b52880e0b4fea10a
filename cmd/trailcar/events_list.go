package main

import (
	"bufio"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailcar/trailcar/internal/client"
	"github.com/trailcar/trailcar/internal/event"
)

func newEventsListCmd(s streams, ef *eventsFlags) *cobra.Command {
	var f event.Filter
	var limit int
	var all, follow bool
	var to tableOptions
	var output string
	cmd := &cobra.Command{
		Use:     "list [RESOURCE]",
		Aliases: []string{"ls"}, // anchore-cli's
		Short:   "List events, newest first",
		Long: `List events, newest first: 100 by default, --limit N, or --all.

RESOURCE is a glob matched against resource.id when the event has one,
else against req.path. -o json prints JSON Lines: one event per line, as
stored, fields in their stored order. -f prints the newest --limit matches
oldest first, then follows (as journalctl -n N -f). A list that fails
before its first row prints nothing on stdout.`,
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
			if all && follow {
				return usagef("--all with -f: use events follow --since to replay from a time, then follow")
			}
			if limit < 1 {
				return usagef("--limit %d: want at least 1", limit)
			}
			if all {
				limit = 0
			}
			if follow {
				p, err := newFollowPrinter(output, to, s.out)
				if err != nil {
					return usagef("-f: %v", err)
				}
				src, err := ef.source(cmd)
				if err != nil {
					return err
				}
				return listFollow(cmd, src, &f, limit, p)
			}
			out := bufio.NewWriterSize(s.out, 64<<10)
			p, err := newPrinter(output, to, out)
			if err != nil {
				return err
			}
			src, err := ef.source(cmd)
			if err != nil {
				return err
			}
			rows := 0
			err = src.each(cmd.Context(), &f, limit, func(line []byte) error {
				rows++
				return p.print(line)
			})
			// A list that failed before its first row prints nothing: a
			// header or "No events" would read as an empty trail.
			if err != nil && rows == 0 {
				return err
			}
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
	fl.BoolVarP(&follow, "follow", "f", false, "print the newest --limit oldest first, then follow (as journalctl -n N -f)")
	fl.StringVarP(&output, "output", "o", "table", "table, wide (table with --full), json (JSON Lines) or yaml")
	addTableFlags(fl.BoolVar, &to)
	return cmd
}

// listFollow is list -f: the newest limit matches, oldest first, then
// the events written after them, none printed twice and none missed (the
// follow starts at the newest one printed, skipping it).
func listFollow(cmd *cobra.Command, src source, f *event.Filter, limit int, p printer) error {
	listed := time.Now()
	var newest [][]byte
	err := src.each(cmd.Context(), f, limit, func(line []byte) error {
		newest = append(newest, slices.Clone(line))
		return nil
	})
	if err != nil {
		return err
	}
	m := &client.Mark{}
	for _, line := range slices.Backward(newest) {
		m.Listed(line)
		if err := p.print(line); err != nil {
			return err
		}
	}
	if len(newest) == 0 && f.Since.IsZero() {
		// Nothing matched when the list ran, so every match from a little
		// before it (a clock a second apart from the server's) is new.
		from := *f
		from.Since = listed.Add(-time.Second)
		f = &from
	}
	return followAfter(cmd, src, f, m, p)
}
