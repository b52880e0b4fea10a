package main

import (
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/sidecar"
)

func newConfigCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with configuration files",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("config: a subcommand is required (check)")
		},
	}
	var path string
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate a config and print the effective config (defaults included) as YAML",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := sidecar.LoadConfig(configPath(path))
			if err != nil {
				return err
			}
			enc := yaml.NewEncoder(s.out)
			enc.SetIndent(2)
			if err := enc.Encode(cfg); err != nil {
				return err
			}
			return enc.Close()
		},
	}
	check.Flags().StringVar(&path, "config", "", "config file (default $TRAILCAR_CONFIG, else built-in defaults)")
	cmd.AddCommand(check)
	return cmd
}
