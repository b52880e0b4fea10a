package examplecheck_test

import (
	"strings"
	"testing"

	"github.com/trailcar/trailcar/internal/sidecartest"
	"github.com/trailcar/trailcar/sidecar"
)

// secretDir is where the example pods mount the Secret trailcar-admin-tls.
const secretDir = "/etc/trailcar/tls/"

// parseKubeConfig parses the ConfigMap's trailcar config as `config check`
// would inside the pod: the files of the TLS Secret (read at check) are
// made for the test (a CA, and a certificate naming the admin Service) in
// a directory that stands for the mount; the config returned names the
// mount's paths again.
func parseKubeConfig(t *testing.T, text string) (sidecar.Config, error) {
	t.Helper()
	dir := t.TempDir() + "/"
	sidecartest.NewCA(t).Secret(t, dir, 2, "console-trailcar-admin")
	cfg, err := sidecar.ParseConfig(strings.NewReader(strings.ReplaceAll(text, secretDir, dir)))
	for _, p := range []*string{&cfg.Admin.TLSCertFile, &cfg.Admin.TLSKeyFile, &cfg.Cluster.CAFile} {
		*p = strings.Replace(*p, dir, secretDir, 1)
	}
	return cfg, err
}
