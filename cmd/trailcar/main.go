// Command trailcar is the audit sidecar and its CLI. main only maps errors
// to exit codes: 0 done, 1 failed at run time, 2 bad usage or config, 3
// could not check (verify).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/trailcar/trailcar/sidecar"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// streams are the command's standard files, swapped in tests.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// usageError is bad usage: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	root := newRootCmd(streams{in: in, out: out, err: errOut})
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(errOut, "trailcar:", err)
	return exitCode(err)
}

func exitCode(err error) int {
	var ue usageError
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.As(err, &ue) || errors.Is(err, sidecar.ErrInvalidConfig) {
		return 2
	}
	return 1
}

func newRootCmd(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "trailcar",
		Short:         "trailcar is a log-file-first audit sidecar",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("a command is required; see trailcar --help")
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(s), newDemoCmd(s), newConfigCmd(s), newVersionCmd(s), newEventsCmd(s), newKeygenCmd(s), newVerifyCmd(s), newHashCmd(s), newShipCmd(s))
	return root
}

// noArgs refuses positional arguments as bad usage.
func noArgs(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) > 0 && !cmd.HasParent():
		return usagef("unknown command %q; see trailcar --help", args[0])
	case len(args) > 0:
		return usagef("%s: unexpected argument %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// configPath is --config, else $TRAILCAR_CONFIG.
func configPath(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("TRAILCAR_CONFIG")
}
