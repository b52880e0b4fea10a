package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/store"
)

// exitError carries an exit code other than 1 or 2 (verify's 3: could
// not check).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// errTampered ends verify with exit 1 once the report is printed.
var errTampered = errors.New("the trail shows tampering")

func newKeygenCmd(s streams) *cobra.Command {
	var out string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Make an Ed25519 key pair for integrity.key_file (FILE) and verify --public-key (FILE.pub)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("keygen: --out FILE is required")
			}
			_, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			private, public, err := integrity.EncodeKeys(priv)
			if err != nil {
				return err
			}
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			for _, f := range []struct {
				path string
				data []byte
				mode os.FileMode
			}{{out, private, 0o600}, {out + ".pub", public, 0o644}} {
				if err := writeKeyFile(f.path, f.data, f.mode, flags); err != nil {
					return err
				}
			}
			fmt.Fprintf(s.out, "wrote %s (private, 0600) and %s.pub (public); key id %s\n", out, out, integrity.KeyID(priv.Public().(ed25519.PublicKey)))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "where to write the private key (the public key goes to FILE.pub)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite FILE and FILE.pub if they exist")
	return cmd
}

func writeKeyFile(path string, data []byte, mode os.FileMode, flags int) error {
	f, err := os.OpenFile(path, flags, mode)
	if errors.Is(err, fs.ErrExist) {
		return usagef("keygen: %s exists; give --force to overwrite it", path)
	}
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil { // an existing file keeps its mode otherwise
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// verifyDir verifies the files of dir as they are (opts: a range, a
// witness), read through a snapshot of the store (the one reader of the
// trail).
func verifyDir(ctx context.Context, dir, filename string, pub ed25519.PublicKey, opts integrity.Options) (integrity.Report, error) {
	files, err := store.New(store.Options{Dir: dir, Filename: filename}).Snapshot()
	if err != nil {
		return integrity.Report{}, err
	}
	defer files.Close()
	return integrity.VerifyWith(ctx, files, pub, opts)
}

func newVerifyCmd(s streams) *cobra.Command {
	var dir, filename, server, tokenFile, publicKey, output, since, before, witness, witnessHost string
	var local bool
	cmd := &cobra.Command{
		Use:   "verify [--dir DIR | --server URL]",
		Short: "Check the integrity chain of the audit files: exit 0 intact, 1 tampering, 3 could not check",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return usagef("-o %q: want table or json", output)
			}
			if dir != "" && (cmd.Flags().Changed("server") || cmd.Flags().Changed("token-file") || local) {
				return usagef("--dir reads the files directly: --server, --token-file and --local do not apply")
			}
			rng, err := verifyRange(since, before, time.Now())
			if err != nil {
				return err
			}
			opts := integrity.Options{Range: rng, WitnessHost: witnessHost}
			if witness != "" {
				if dir == "" {
					return usagef("--witness is held against the files: give --dir (on the sidecar's host, or a copy of its log dir)")
				}
				if opts.Witness, err = readWitness(witness); err != nil {
					return exitError{3, err}
				}
			} else if witnessHost != "" {
				return usagef("--witness-host chooses the host of the --witness checkpoints: give --witness")
			}
			var pub ed25519.PublicKey
			if publicKey != "" {
				if pub, err = integrity.LoadPublicKey(publicKey); err != nil {
					return usagef("--public-key %s: %v", publicKey, err)
				}
			}
			var rep *integrity.Report
			if dir != "" {
				if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
					return usagef("--dir %q: not a directory", dir)
				}
				r, err := verifyDir(cmd.Context(), dir, filename, pub, opts)
				if err != nil {
					return exitError{3, fmt.Errorf("verify %s: %w", dir, err)}
				}
				rep = &r
			} else {
				c, err := serverClient(server, tokenFile, "")
				if err != nil {
					return err
				}
				scope := ""
				if local {
					scope = "local"
				}
				var all *integrity.ClusterReport
				if rep, all, err = c.Integrity(cmd.Context(), rng, scope); err != nil {
					return exitError{3, fmt.Errorf("verify %s: %w", c.BaseURL, err)}
				}
				if all != nil {
					return printCluster(s, all, pub, publicKey, output)
				}
				checkKey(s, rep, "the sidecar", pub, publicKey)
			}
			if output == "json" {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WriteTable(s.out)
			}
			if !rep.Intact {
				return errTampered
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "verify the audit files in DIR directly, with no server")
	f.StringVar(&filename, "filename", "audit.log", "with --dir: the live file's name")
	f.StringVar(&server, "server", "", "admin URL of a running sidecar (default $TRAILCAR_SERVER or "+defaultServer+")")
	f.StringVar(&tokenFile, "token-file", "", "file holding the admin token (default: the token in $TRAILCAR_TOKEN)")
	f.StringVar(&publicKey, "public-key", "", "check the checkpoints' signatures with this Ed25519 public key (PEM)")
	f.StringVarP(&output, "output", "o", "table", "table or json")
	f.StringVar(&since, "since", "", "check only the files whose lines overlap [since, before): a time or a duration back from now, as the events filters")
	f.StringVar(&before, "before", "", "with --since or alone: the end of the range (exclusive)")
	f.StringVar(&witness, "witness", "", "hold the files against the checkpoints kept outside in FILE (events, webhook envelopes or batches, store hits; one JSON value a line)")
	f.StringVar(&witnessHost, "witness-host", "", "use the --witness checkpoints of this host (default: the host of the files' checkpoints)")
	f.BoolVar(&local, "local", false, "with --server: this pod's files only, not its cluster peers'")
	return cmd
}

// checkKey marks rep tampered when the pod (who) checked with another key
// than the one given: the sidecar checks with its own.
func checkKey(s streams, rep *integrity.Report, who string, pub ed25519.PublicKey, publicKey string) {
	if pub != nil && rep.KeyID != integrity.KeyID(pub) {
		fmt.Fprintf(s.err, "trailcar: %s signs with key %q, not %s's %s\n", who, rep.KeyID, publicKey, integrity.KeyID(pub))
		rep.Intact = false
	}
}

// printCluster prints a cluster's verdict (docs/integrity.md "Verify"):
// exit 1 when a pod that answered shows tampering, else 3 when a pod did
// not answer (its files are not vouched for), else 0.
func printCluster(s streams, all *integrity.ClusterReport, pub ed25519.PublicKey, publicKey, output string) error {
	for _, p := range all.Pods {
		if p.Report != nil {
			checkKey(s, p.Report, p.Host, pub, publicKey)
		}
	}
	all.Judge()
	if output == "json" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(all); err != nil {
			return err
		}
	} else {
		all.WriteTable(s.out)
	}
	switch {
	case !all.Intact:
		return errTampered
	case all.Partial:
		return exitError{3, errors.New("some pods did not answer: their files were not checked")}
	}
	return nil
}

// readWitness reads a --witness file.
func readWitness(path string) (*integrity.Witness, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--witness: %w", err)
	}
	defer f.Close()
	w, err := integrity.ReadWitness(f)
	if err != nil {
		return nil, fmt.Errorf("--witness %s: %w", path, err)
	}
	return w, nil
}

// verifyRange reads --since and --before, in the events filters' forms,
// resolved once against now.
func verifyRange(since, before string, now time.Time) (integrity.Range, error) {
	var rng integrity.Range
	for _, p := range []struct {
		flag, value string
		to          *time.Time
	}{{"--since", since, &rng.Since}, {"--before", before, &rng.Before}} {
		if p.value == "" {
			continue
		}
		t, err := event.ParseTime(p.value, now)
		if err != nil {
			return rng, usagef("%s %q: %v", p.flag, p.value, err)
		}
		*p.to = t
	}
	if !rng.Since.IsZero() && !rng.Before.IsZero() && !rng.Since.Before(rng.Before) {
		return rng, usagef("--since %s is not before --before %s", since, before)
	}
	return rng, nil
}
