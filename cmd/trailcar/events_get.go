package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func newEventsGetCmd(s streams, ef *eventsFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Print one event (YAML by default, fields in their stored order)",
		Args:  exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := checkID(id); err != nil {
				return err
			}
			if output != "yaml" && output != "json" {
				return usagef("-o %q: want yaml or json", output)
			}
			src, err := ef.source(cmd)
			if err != nil {
				return err
			}
			line, err := src.get(cmd.Context(), id)
			if err != nil {
				return notFound(id, err)
			}
			if output == "json" {
				var b bytes.Buffer
				if err := json.Indent(&b, line, "", "  "); err != nil {
					return fmt.Errorf("event %s: %w", id, err)
				}
				b.WriteByte('\n')
				_, err := s.out.Write(b.Bytes())
				return err
			}
			n, err := jsonToYAML(line)
			if err != nil {
				return err
			}
			return writeYAML(s.out, n)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "yaml or json")
	return cmd
}

// exactArgs wants n arguments, named name in the error.
func exactArgs(n int, name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s: want %s", cmd.CommandPath(), name)
		}
		return nil
	}
}

// maxArgs wants at most n arguments, described by name in the error.
func maxArgs(n int, name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usagef("%s: unexpected argument %q; want %s", cmd.CommandPath(), args[n], name)
		}
		return nil
	}
}
