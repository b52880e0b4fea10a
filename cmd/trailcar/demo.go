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
	// Free ports of 127.0.0.1 by default, so that a demo never collides
	// with something already listening; the flags fix them, for a demo
	// behind a port forward or one whose URLs must not change.
	var listen, adminListen string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the sidecar in front of a built-in demo app, on free local ports",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			app, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("demo app: %w", err)
			}
			dir, err := os.MkdirTemp("", "trailcar-demo-")
			if err != nil {
				app.Close()
				return err
			}
			appSrv := &http.Server{Handler: demoapp.New().Handler(), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				if err := appSrv.Serve(app); !errors.Is(err, http.ErrServerClosed) {
					fmt.Fprintln(s.err, "demo app:", err)
				}
			}()
			defer appSrv.Close()

			cfg := sidecar.DefaultConfig()
			cfg.Listen = listen
			cfg.Admin.Listen = adminListen
			cfg.Upstream = "http://" + app.Addr().String()
			cfg.Service = "demo"
			cfg.ActivityTracker.Dir = filepath.Join(dir, "logs")
			started := false
			err = runSidecar(cmd.Context(), cfg, nil, s.err, func(sc *sidecar.Sidecar) {
				started = true
				fmt.Fprintf(s.out, "proxy: %s\n", sc.ProxyURL())
				fmt.Fprintf(s.out, "admin: %s\n", sc.AdminURL())
				fmt.Fprintf(s.out, "audit log: %s\n", sc.AuditPath())
				fmt.Fprintf(s.out, "try: curl -X POST %s/api/v3/components -d '{\"name\":\"peer-org2\"}'   (Ctrl-C stops)\n", sc.ProxyURL())
			})
			if !started {
				os.RemoveAll(dir) // nothing was written: leave no empty demo dir behind
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&listen, "listen", "127.0.0.1:0", "proxy port address (port 0: a free one)")
	fl.StringVar(&adminListen, "admin-listen", "127.0.0.1:0", "admin port address (port 0: a free one)")
	return cmd
}
