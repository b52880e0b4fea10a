package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailcar/trailcar/cmd/trailcar/internal/demoapp"
	"github.com/trailcar/trailcar/sidecar"
)

func newDemoCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run the sidecar in front of a built-in demo app, on free local ports",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := os.MkdirTemp("", "trailcar-demo-")
			if err != nil {
				return err
			}
			app, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("demo app: %w", err)
			}
			appSrv := &http.Server{Handler: demoapp.New().Handler(), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				if err := appSrv.Serve(app); !errors.Is(err, http.ErrServerClosed) {
					fmt.Fprintln(s.err, "demo app:", err)
				}
			}()
			defer appSrv.Close()

			cfg := sidecar.DefaultConfig()
			cfg.Listen = "127.0.0.1:0"
			cfg.Admin.Listen = "127.0.0.1:0"
			cfg.Upstream = "http://" + app.Addr().String()
			cfg.Service = "demo"
			cfg.ActivityTracker.Dir = filepath.Join(dir, "logs")
			return runSidecar(cmd.Context(), cfg, s.err, func(sc *sidecar.Sidecar) {
				fmt.Fprintf(s.out, "proxy: %s\n", sc.ProxyURL())
				fmt.Fprintf(s.out, "admin: %s\n", sc.AdminURL())
				fmt.Fprintf(s.out, "audit log: %s\n", sc.AuditPath())
				fmt.Fprintf(s.out, "try: curl -X POST %s/api/v3/components -d '{\"name\":\"peer-org2\"}'   (Ctrl-C stops)\n", sc.ProxyURL())
			})
		},
	}
}
