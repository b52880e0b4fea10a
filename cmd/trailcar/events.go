package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trailcar/trailcar/internal/client"
	"github.com/trailcar/trailcar/internal/cluster"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/store"
)

// defaultServer is the admin port the events commands talk to when
// neither --server nor $TRAILCAR_SERVER says otherwise.
const defaultServer = "http://127.0.0.1:9090"

// eventsFlags are the flags every events command has: where the events
// are.
type eventsFlags struct {
	server, tokenFile, caFile, dir, filename string
	local                                    bool
}

func newEventsCmd(s streams) *cobra.Command {
	var ef eventsFlags
	cmd := &cobra.Command{
		Use:     "events",
		Aliases: []string{"event"}, // anchore-cli's own spelling
		Short:   "List, get, delete and follow audit events, from a sidecar or from the files",
		Long: `List, get, delete and follow audit events, from a sidecar or from the files.

anchore-cli's spellings are accepted too: event (= events), events ls
(= list), --event_type (= --type), --resource_type (= --resource-type),
--dontask (= --yes).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("events: a subcommand is required (list, get, delete, follow)")
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&ef.server, "server", "", "admin URL of a running sidecar (default $TRAILCAR_SERVER or "+defaultServer+")")
	pf.StringVar(&ef.tokenFile, "token-file", "", "file holding the admin token (default: the token in $TRAILCAR_TOKEN)")
	pf.StringVar(&ef.caFile, "ca-file", "", "with an https:// --server: PEM CA bundle its certificate must chain to (default $TRAILCAR_CA_FILE, else the system's)")
	pf.StringVar(&ef.dir, "dir", "", "read the audit files in DIR directly, with no server")
	pf.StringVar(&ef.filename, "filename", "audit.log", "with --dir: the live file's name")
	pf.BoolVar(&ef.local, "local", false, "with --server: this pod's events only, not its cluster peers'")
	cmd.AddCommand(newEventsListCmd(s, &ef), newEventsGetCmd(s, &ef), newEventsDeleteCmd(s, &ef), newEventsFollowCmd(s, &ef))
	cmd.SetGlobalNormalizationFunc(anchoreSpellings)
	return cmd
}

// anchoreSpellings maps anchore-cli's flag spellings to ours, so that
// --event_type is --type (docs/cli.md "Habits from anchore-cli, kubectl
// and journalctl"). pflag looks every flag up through it, and an unknown
// spelling stays unknown.
func anchoreSpellings(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	switch name {
	case "event_type":
		return "type"
	case "resource_type":
		return "resource-type"
	case "dontask":
		return "yes"
	}
	return pflag.NormalizedName(name)
}

// source is where the events are: a sidecar's API, or the files.
type source interface {
	// each calls fn with the events matching f, newest first: limit of
	// them, or all when limit is 0.
	each(ctx context.Context, f *event.Filter, limit int, fn func(line []byte) error) error
	get(ctx context.Context, id string) ([]byte, error)
	deleteID(ctx context.Context, id string) (int, error)
	deleteMatching(ctx context.Context, f *event.Filter, all bool) (int, error)
	// follow calls fn with each new event matching f: after those m
	// took, else from f.Since, else from now; m takes each one.
	follow(ctx context.Context, f *event.Filter, m *client.Mark, fn func(line []byte) error) error
}

// source opens the source the flags name.
func (ef *eventsFlags) source(cmd *cobra.Command) (source, error) {
	if ef.dir != "" {
		if cmd.Flags().Changed("server") || cmd.Flags().Changed("token-file") || cmd.Flags().Changed("ca-file") || ef.local {
			return nil, usagef("--dir reads the files directly: --server, --token-file, --ca-file and --local do not apply")
		}
		if fi, err := os.Stat(ef.dir); err != nil || !fi.IsDir() {
			return nil, usagef("--dir %q: not a directory", ef.dir)
		}
		st := store.New(store.Options{Dir: ef.dir, Filename: ef.filename, RefuseSealed: true})
		return &dirSource{st: st, warn: cmd.ErrOrStderr()}, nil
	}
	c, err := serverClient(ef.server, ef.tokenFile, ef.caFile)
	if err != nil {
		return nil, err
	}
	if ef.local {
		c.Scope = "local"
	}
	c.OnPartial = warnPartial(cmd.ErrOrStderr())
	return &serverSource{c: c, warn: cmd.ErrOrStderr()}, nil
}

// serverClient is a client of the sidecar at server (else
// $TRAILCAR_SERVER, else the default), with the token of tokenFile (else
// $TRAILCAR_TOKEN), verifying an https server with the CAs of caFile
// (else $TRAILCAR_CA_FILE, else the system's): an admin port with
// admin.tls_cert_file usually has a CA of its own (docs/cluster.md
// "Tokens and TLS").
func serverClient(server, tokenFile, caFile string) (*client.Client, error) {
	if server == "" {
		server = os.Getenv("TRAILCAR_SERVER")
	}
	if server == "" {
		server = defaultServer
	}
	if !strings.HasPrefix(server, "http://") && !strings.HasPrefix(server, "https://") {
		return nil, usagef("--server %q: want an http:// or https:// URL", server)
	}
	token := os.Getenv("TRAILCAR_TOKEN")
	if tokenFile != "" {
		data, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, usagef("--token-file: %v", err)
		}
		token = strings.TrimSpace(string(data))
	}
	c := &client.Client{BaseURL: server, Token: strings.TrimSpace(token)}
	if caFile == "" {
		caFile = os.Getenv("TRAILCAR_CA_FILE")
	}
	if caFile != "" {
		pool, err := cluster.LoadCA(caFile)
		if err != nil {
			return nil, usagef("--ca-file %s: %v", caFile, err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		c.HTTP = &http.Client{Transport: tr}
	}
	return c, nil
}

// filterFlag is one filter parameter as a flag: its value is checked as
// it is set, so a bad value is a usage error naming the flag.
type filterFlag struct {
	f     *event.Filter
	param string
	value string
}

func (v *filterFlag) String() string { return v.value }
func (v *filterFlag) Type() string   { return "string" }
func (v *filterFlag) Set(s string) error {
	v.value = s
	return v.f.Set(v.param, s)
}

// filterUsage describes a filter flag.
func filterUsage(param string) string {
	switch param {
	case "since":
		return "events at or after this time: 2026-11-22T08:00:00Z, '2026-11-22 08:00' (UTC), today, yesterday, 1h or -1h (back from now)"
	case "before":
		return "events before this time (the forms of --since)"
	case "level":
		return "info or error"
	case "outcome":
		return "success or failure"
	case "type":
		return "event type glob, e.g. system.* (anchore-cli: --event_type)"
	case "action":
		return "action glob, e.g. console.*.create"
	case "user":
		return "creds name or uuid"
	case "status":
		return "HTTP status: 404, or a class: 4xx"
	case "resource_type":
		return "resource type glob, e.g. comp* (anchore-cli: --resource_type)"
	}
	return param + " (exact)"
}

// addFilterFlags adds the filter flags (all but resource, which is an
// argument) to fs, setting f.
func addFilterFlags(fs *pflag.FlagSet, f *event.Filter) {
	for _, p := range event.FilterParams {
		if p == "resource" {
			continue
		}
		fs.Var(&filterFlag{f: f, param: p}, flagName(p), filterUsage(p))
	}
}

// flagName is the flag of a filter parameter: resource_type is
// --resource-type.
func flagName(param string) string { return strings.ReplaceAll(param, "_", "-") }

// compileFilter checks the filter as a whole; errors name the flag.
func compileFilter(f *event.Filter) error {
	if err := f.Compile(); err != nil {
		var pe *event.ParamError
		if errors.As(err, &pe) {
			name := "--" + flagName(pe.Param)
			if pe.Param == "resource" {
				name = "RESOURCE"
			}
			return usagef("%s %q: %v", name, pe.Value, pe.Err)
		}
		return usageError{err}
	}
	return nil
}

// checkID refuses an argument that is not an event id.
func checkID(id string) error {
	if !event.ValidID(id) {
		return usagef("ID %q: an event id is 32 lowercase hex digits", id)
	}
	return nil
}

// notFound is the runtime error for an absent event.
func notFound(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, client.ErrNotFound) {
		return fmt.Errorf("event %s not found", id)
	}
	return err
}

// warnPartial warns, once per peer, of the cluster peers that did not
// answer: the answer printed is partial (the exit code stays 0).
func warnPartial(w io.Writer) func([]client.PeerState) {
	warned := map[string]bool{}
	return func(peers []client.PeerState) {
		for _, p := range peers {
			if !p.OK && !warned[p.URL] {
				warned[p.URL] = true
				fmt.Fprintf(w, "trailcar: warning: partial answer: peer %s did not answer: %s\n", p.URL, p.Error)
			}
		}
	}
}
