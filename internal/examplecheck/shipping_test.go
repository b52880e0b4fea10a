package examplecheck_test

import (
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/internal/victorialogs"
)

// TestKubernetesShipping: the ConfigMap's trailcar ships to the
// VictoriaLogs of victorialogs.yaml (the version the shipping tests run
// against, its data on a PersistentVolumeClaim, reachable by the console's
// pods), and the ship-container/ variant runs `trailcar ship` in a
// container of its own on the same config with serve's shipping off.
func TestKubernetesShipping(t *testing.T) {
	objs := k8sObjects(t)
	dep, cm := one(t, objs, "Deployment"), one(t, objs, "ConfigMap")
	cfg, err := parseKubeConfig(t, cm.Data["config.yaml"])
	if err != nil {
		t.Fatal(err)
	}
	var svc struct {
		Metadata struct{ Name string } `yaml:"metadata"`
		Spec     struct {
			Selector map[string]string `yaml:"selector"`
		} `yaml:"spec"`
	}
	decodeKind(t, "kubernetes/victorialogs.yaml", "Service", &svc)
	var sts struct {
		Metadata struct{ Name string } `yaml:"metadata"`
		Spec     struct {
			ServiceName string `yaml:"serviceName"`
			Selector    struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
				Spec podSpec `yaml:"spec"`
			} `yaml:"template"`
			VolumeClaimTemplates []struct {
				Metadata struct{ Name string } `yaml:"metadata"`
			} `yaml:"volumeClaimTemplates"`
		} `yaml:"spec"`
	}
	decodeKind(t, "kubernetes/victorialogs.yaml", "StatefulSet", &sts)

	t.Run("the store is the pinned VictoriaLogs, on a volume claim", func(t *testing.T) {
		if sts.Spec.ServiceName != svc.Metadata.Name || !selects(svc.Spec.Selector, sts.Spec.Template.Metadata.Labels) {
			t.Errorf("StatefulSet %s: serviceName %q, pod labels %v; Service %s", sts.Metadata.Name, sts.Spec.ServiceName, sts.Spec.Template.Metadata.Labels, svc.Metadata.Name)
		}
		if len(sts.Spec.Template.Spec.Containers) != 1 {
			t.Fatalf("%d containers, want VictoriaLogs alone", len(sts.Spec.Template.Spec.Containers))
		}
		c := sts.Spec.Template.Spec.Containers[0]
		if want := "victoriametrics/victoria-logs:" + victorialogs.Version; c.Image != want {
			t.Errorf("image %s, want %s (the version the shipping tests run against)", c.Image, want)
		}
		data := ""
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "-storageDataPath="); ok {
				data = v
			}
		}
		onClaim := false
		for _, m := range c.VolumeMounts {
			for _, v := range sts.Spec.VolumeClaimTemplates {
				onClaim = onClaim || m.Name == v.Metadata.Name && data != "" && path.Clean(m.MountPath) == path.Clean(data)
			}
		}
		if !onClaim {
			t.Errorf("-storageDataPath %q is not on a volumeClaimTemplate", data)
		}
		if !c.SecurityContext.ReadOnlyRootFilesystem || c.Resources.Limits["memory"] == "" {
			t.Error("want a read-only root filesystem and a memory limit")
		}
	})

	t.Run("trailcar ships to it", func(t *testing.T) {
		if !cfg.Ship.Enabled || cfg.Ship.Protocol != "elasticsearch" {
			t.Fatalf("ship.enabled %v, protocol %q", cfg.Ship.Enabled, cfg.Ship.Protocol)
		}
		u, err := url.Parse(cfg.Ship.URL)
		if err != nil {
			t.Fatal(err)
		}
		port := 0
		for _, c := range sts.Spec.Template.Spec.Containers {
			port = c.port("http")
		}
		if u.Hostname() != svc.Metadata.Name || u.Port() != strconv.Itoa(port) || u.Path != "/insert/elasticsearch" {
			t.Errorf("ship.url %s: want the Service %s on port %d, /insert/elasticsearch", cfg.Ship.URL, svc.Metadata.Name, port)
		}
		for _, p := range []string{"_msg_field", "_time_field", "_stream_fields"} {
			if u.Query().Get(p) == "" {
				t.Errorf("ship.url sets no %s: VictoriaLogs would not know the event's message, time or stream", p)
			}
		}
		if u.Query().Get("_time_field") != "eventTime" {
			t.Errorf("_time_field %q, want eventTime", u.Query().Get("_time_field"))
		}
		if !slices.Contains(one(t, objs, "Kustomization").Resources, "victorialogs.yaml") {
			t.Error("victorialogs.yaml is not in the kustomization")
		}
	})

	t.Run("only the console's pods and Grafana reach the store", func(t *testing.T) {
		np := named(t, objs, "NetworkPolicy", "victorialogs")
		if !selects(np.Spec.PodSelector.MatchLabels, sts.Spec.Template.Metadata.Labels) {
			t.Fatalf("podSelector %v does not select the store's pods", np.Spec.PodSelector.MatchLabels)
		}
		shippers := false
		for i, rule := range np.Spec.Ingress {
			if len(rule.From) == 0 {
				t.Errorf("ingress rule %d admits the store from everywhere", i)
			}
			for _, f := range rule.From {
				switch {
				case f.IPBlock != nil || f.PodSelector == nil:
					t.Errorf("ingress rule %d admits an ipBlock or a whole namespace", i)
				case f.NamespaceSelector == nil && selects(f.PodSelector.MatchLabels, dep.Spec.Template.Metadata.Labels):
					shippers = true
				}
			}
		}
		if !shippers {
			t.Error("the console's pods (the shippers) are not admitted")
		}
	})

	t.Run("ship-container variant", func(t *testing.T) {
		var kz struct {
			Resources []string `yaml:"resources"`
			Patches   []struct {
				Path string `yaml:"path"`
			} `yaml:"patches"`
		}
		decodeKind(t, "kubernetes/ship-container/kustomization.yaml", "Kustomization", &kz)
		if !slices.Equal(kz.Resources, []string{".."}) || len(kz.Patches) != 2 {
			t.Fatalf("kustomization %+v: want the base (..) and two patches", kz)
		}
		for _, p := range kz.Patches {
			if _, err := os.Stat(filepath.Join("kubernetes/ship-container", p.Path)); err != nil {
				t.Error(err)
			}
		}

		// The patched config is the base's, with serve's shipping off.
		var patch k8sObject
		decodeKind(t, "kubernetes/ship-container/configmap-patch.yaml", "ConfigMap", &patch)
		if patch.Metadata.Name != cm.Metadata.Name {
			t.Fatalf("the patch names ConfigMap %q, the base is %q", patch.Metadata.Name, cm.Metadata.Name)
		}
		var diff []string
		base, variant := strings.Split(cm.Data["config.yaml"], "\n"), strings.Split(patch.Data["config.yaml"], "\n")
		if len(base) != len(variant) {
			t.Fatalf("config.yaml has %d lines in the patch, %d in the base", len(variant), len(base))
		}
		for i := range base {
			if base[i] != variant[i] {
				diff = append(diff, variant[i])
			}
		}
		vcfg, err := parseKubeConfig(t, patch.Data["config.yaml"])
		if err != nil {
			t.Fatal(err)
		}
		if len(diff) != 1 || vcfg.Ship.Enabled || vcfg.Ship.URL != cfg.Ship.URL {
			t.Errorf("the patch's config differs from the base in %q; want only ship.enabled: false", diff)
		}

		var shipper podSpec
		var dp struct {
			Metadata struct{ Name string } `yaml:"metadata"`
			Spec     struct {
				Template struct {
					Spec *podSpec `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		dp.Spec.Template.Spec = &shipper
		decodeKind(t, "kubernetes/ship-container/shipper-patch.yaml", "Deployment", &dp)
		if dp.Metadata.Name != dep.Metadata.Name || len(shipper.Containers) != 1 {
			t.Fatalf("the patch: Deployment %q with %d containers, want %q with the shipper", dp.Metadata.Name, len(shipper.Containers), dep.Metadata.Name)
		}
		c := shipper.Containers[0]
		if !slices.Equal(c.Args[:3], []string{"ship", "--config", "/etc/trailcar/config.yaml"}) || !slices.Contains(c.Args, "--metrics-listen") {
			t.Errorf("shipper args %v", c.Args)
		}
		// Its mounts are volumes of the base pod, at the same paths as
		// trailcar's, the log dir writable (.ship-position, .ship-lock).
		pod := dep.Spec.Template.Spec
		var tc container
		for _, bc := range pod.Containers {
			if bc.Name == "trailcar" {
				tc = bc
			}
		}
		for _, dir := range []string{cfg.ActivityTracker.Dir, "/etc/trailcar/config.yaml", path.Dir(cfg.Admin.TLSCertFile)} {
			want := mountAt(t, pod, tc, dir)
			got := mountAt(t, podSpec{Volumes: pod.Volumes}, c, dir)
			if got.Name != want.Name {
				t.Errorf("%s: the shipper mounts volume %s, trailcar %s", dir, got.Name, want.Name)
			}
		}
		for _, m := range c.VolumeMounts {
			if path.Clean(m.MountPath) == path.Clean(cfg.ActivityTracker.Dir) && m.ReadOnly {
				t.Error("the shipper's log dir is read-only, but it keeps .ship-position there")
			}
		}
		if !c.SecurityContext.ReadOnlyRootFilesystem || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
			t.Error("shipper: want a read-only root filesystem, a memory request and limit")
		}
	})
}

// decodeKind decodes the document of kind in file into v.
func decodeKind(t *testing.T, file, kind string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var head struct {
			Kind string `yaml:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if head.Kind == kind {
			if err := yaml.Unmarshal([]byte(doc), v); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			return
		}
	}
	t.Fatalf("%s holds no %s", file, kind)
}
