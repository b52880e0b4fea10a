package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trailcar/trailcar/internal/event"
)

// deletePrompt is asked before deleting every event, unless --yes.
const deletePrompt = "Really delete (clear) all events? (y/N) "

func newEventsDeleteCmd(s streams, ef *eventsFlags) *cobra.Command {
	var f event.Filter
	var all, yes bool
	cmd := &cobra.Command{
		Use:   "delete [ID]",
		Short: "Delete one event, the events matching filters, or --all",
		Long: `Delete one event by ID, every event matching the filters, or every event
with --all (which asks first, unless --yes). Prints "Deleted N events".`,
		Args: maxArgs(1, "[ID]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := compileFilter(&f); err != nil {
				return err
			}
			switch {
			case len(args) == 1 && (all || !f.IsZero()):
				return usagef("delete: give an ID, or filters, or --all; not several")
			case len(args) == 1:
				if err := checkID(args[0]); err != nil {
					return err
				}
			case all && !f.IsZero():
				return usagef("--all deletes every event: leave out the filters, or --all")
			case !all && f.IsZero():
				return usagef("delete: give an ID, filters (--since, --level, …) or --all")
			}
			if all && !yes && !confirm(s) {
				fmt.Fprintln(s.out, "Nothing deleted")
				return nil
			}
			src, err := ef.source(cmd)
			if err != nil {
				return err
			}
			var n int
			if len(args) == 1 {
				n, err = src.deleteID(cmd.Context(), args[0])
				err = notFound(args[0], err)
			} else {
				n, err = src.deleteMatching(cmd.Context(), &f, all)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "Deleted %d events\n", n)
			return nil
		},
	}
	fl := cmd.Flags()
	addFilterFlags(fl, &f)
	fl.BoolVar(&all, "all", false, "delete every event (asks first)")
	fl.BoolVar(&yes, "yes", false, "do not ask")
	return cmd
}

// confirm asks the delete prompt; only y or yes says yes.
func confirm(s streams) bool {
	fmt.Fprint(s.out, deletePrompt)
	answer, _ := bufio.NewReader(s.in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true
	}
	return false
}
