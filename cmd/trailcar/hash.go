package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trailcar/trailcar/sidecar"
)

// newHashCmd is trailcar hash: the creds.uuid the sidecar writes for an
// opaque token or API key, so an operator can find a credential's events
// without the trail holding it (docs/cli.md "Commands").
func newHashCmd(s streams) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "hash VALUE",
		Short: "Print the creds.uuid an opaque token or API key gets under this config",
		Long: `Print the creds.uuid that the sidecar writes for an opaque token or API key
VALUE: the first 12 hex digits of HMAC-SHA256(key, VALUE) when the config sets
identity.hmac_key_file, else of SHA-256(VALUE). Then
"trailcar events list --user <uuid>" finds that credential's events.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || args[0] == "" {
				return usagef("hash: want one VALUE, not empty (quote it if it holds spaces)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := sidecar.LoadConfig(configPath(path))
			if err != nil {
				return err
			}
			h, err := cfg.Identity.Hasher()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(s.out, h.Hash(args[0]))
			return err
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "config file (default $TRAILCAR_CONFIG, else built-in defaults)")
	return cmd
}
