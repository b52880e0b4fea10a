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
		Use:   "delete [ID | RESOURCE]",
		Short: "Delete one event, the events matching filters, or all of them",
		Long: `Delete one event by ID (32 hex digits), or every event matching RESOURCE (a
glob on resource.id, else req.path) and the filters. With neither (bare, as
in anchore-cli, or --all) it deletes every event, and asks first unless --yes.
Prints "Deleted N events".`,
		Args: maxArgs(1, "[ID | RESOURCE]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var id string
			if len(args) == 1 {
				if looksLikeID(args[0]) {
					id = strings.ToLower(args[0])
				} else if err := f.Set("resource", args[0]); err != nil {
					return usagef("RESOURCE: %v", err)
				}
			}
			if err := compileFilter(&f); err != nil {
				return err
			}
			switch {
			case id != "" && (all || !f.IsZero()):
				return usagef("delete: give an ID, or a RESOURCE and filters, or --all; not several")
			case all && !f.IsZero():
				return usagef("--all deletes every event: leave out RESOURCE and the filters, or --all")
			}
			everything := id == "" && f.IsZero()
			if everything && !yes && !confirm(s) {
				fmt.Fprintln(s.out, "Nothing deleted")
				return nil
			}
			src, err := ef.source(cmd)
			if err != nil {
				return err
			}
			var n int
			if id != "" {
				n, err = src.deleteID(cmd.Context(), id)
				err = notFound(id, err)
			} else {
				n, err = src.deleteMatching(cmd.Context(), &f, everything)
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
	fl.BoolVar(&all, "all", false, "delete every event (asks first; as giving no ID, RESOURCE or filter)")
	fl.BoolVar(&yes, "yes", false, "do not ask (anchore-cli: --dontask)")
	return cmd
}

// looksLikeID tells an event id (32 hex digits, any case) from a RESOURCE
// glob.
func looksLikeID(s string) bool { return event.ValidID(strings.ToLower(s)) }

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
