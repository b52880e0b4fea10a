// Package examplecheck_test checks that every file under examples/ parses,
// that every trailcar config there passes `trailcar config check`, and that
// the Kubernetes manifests, Prometheus rules, Grafana dashboard and Fluent Bit
// config fit trailcar and each other. The tests run inside examples/, so the
// paths below are the ones a reader of that folder sees.
package examplecheck_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/sidecar"
)

func TestMain(m *testing.M) {
	if err := os.Chdir("../../examples"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// TestEveryFileIsChecked: a new example must be covered by a test below.
func TestEveryFileIsChecked(t *testing.T) {
	known := map[string]bool{
		"README.md": true, "bench.yaml": true,
		"config/*.yaml": true, "kubernetes/*.yaml": true, "kubernetes/statefulset/statefulset.yaml": true,
		"kubernetes/ship-container/*.yaml": true, // TestKubernetesShipping
		"prometheus/prometheus.yml":        true, "prometheus/alert-rules.yml": true,
		"prometheus/alert-tests.yml":      true, // promtool test rules (.ci/promtool.sh)
		"grafana/trailcar-dashboard.json": true,
		"fluent-bit/fluent-bit.conf":      true, "fluent-bit/parsers.conf": true,
		"rsyslog/trailcar.conf": true, // run with rsyslogd: rsyslog_test.go
	}
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		p = filepath.ToSlash(p)
		wild := path.Dir(p) + "/*" + path.Ext(p)
		if !known[p] && !known[wild] {
			t.Errorf("%s: no test checks this example; add it to internal/examplecheck", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTrailcarConfigs: every trailcar config under examples/ (config/*.yaml,
// bench.yaml and the one in the Kubernetes ConfigMap) is valid, as `trailcar
// config check` would say.
func TestTrailcarConfigs(t *testing.T) {
	files, err := filepath.Glob("config/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "bench.yaml")
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			if _, err := sidecar.LoadConfig(f); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("kubernetes/configmap.yaml config.yaml", func(t *testing.T) {
		if _, err := parseKubeConfig(t, configMapData(t)["config.yaml"]); err != nil {
			t.Error(err)
		}
	})
}

// k8sObject is the part of a Kubernetes object the checks read.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data      map[string]string `yaml:"data"`      // ConfigMap
	Resources []string          `yaml:"resources"` // Kustomization
	Spec      struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		Ports []struct {
			Name       string `yaml:"name"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"` // Service
		PodMetricsEndpoints []struct {
			Port   string `yaml:"port"`
			Path   string `yaml:"path"`
			Scheme string `yaml:"scheme"`
		} `yaml:"podMetricsEndpoints"` // PodMonitor
		SecretName  string   `yaml:"secretName"` // cert-manager Certificate
		DNSNames    []string `yaml:"dnsNames"`
		PodSelector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"podSelector"` // NetworkPolicy
		Ingress []struct {
			From []struct {
				PodSelector *struct {
					MatchLabels map[string]string `yaml:"matchLabels"`
				} `yaml:"podSelector"`
				NamespaceSelector *struct{} `yaml:"namespaceSelector"`
				IPBlock           *struct{} `yaml:"ipBlock"`
			} `yaml:"from"`
			Ports []struct {
				Port string `yaml:"port"`
			} `yaml:"ports"`
		} `yaml:"ingress"`
	} `yaml:"spec"`
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		FSGroup      int   `yaml:"fsGroup"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []volume    `yaml:"volumes"`
}

type volume struct {
	Name      string    `yaml:"name"`
	EmptyDir  *struct{} `yaml:"emptyDir"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName string `yaml:"secretName"`
	} `yaml:"secret"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	SecurityContext struct {
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	} `yaml:"securityContext"`
}

type probe struct {
	HTTPGet struct {
		Path   string `yaml:"path"`
		Port   string `yaml:"port"`
		Scheme string `yaml:"scheme"`
	} `yaml:"httpGet"`
}

func (c container) port(name string) int {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// k8sObjects decodes every document of every YAML file in kubernetes/.
func k8sObjects(t *testing.T) map[string][]k8sObject {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	byKind := map[string][]k8sObject{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			var o k8sObject
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			if o.APIVersion == "" || o.Kind == "" {
				t.Errorf("%s document %d: no apiVersion or kind", f, i)
			}
			byKind[o.Kind] = append(byKind[o.Kind], o)
		}
	}
	return byKind
}

// named is the object of kind with that name.
func named(t *testing.T, objs map[string][]k8sObject, kind, name string) k8sObject {
	t.Helper()
	for _, o := range objs[kind] {
		if o.Metadata.Name == name {
			return o
		}
	}
	t.Fatalf("no %s named %s", kind, name)
	return k8sObject{}
}

func one(t *testing.T, objs map[string][]k8sObject, kind string) k8sObject {
	t.Helper()
	if len(objs[kind]) != 1 {
		t.Fatalf("%d objects of kind %s, want 1", len(objs[kind]), kind)
	}
	return objs[kind][0]
}

func configMapData(t *testing.T) map[string]string {
	return one(t, k8sObjects(t), "ConfigMap").Data
}

// TestKubernetesManifests: the pod runs the app and trailcar sharing an
// emptyDir at the log dir, trailcar configured from the ConfigMap with the
// token from a Secret, probes on the admin port's /healthz and /readyz, a
// Service on the proxy port, scraping on the admin port, non-root and a
// read-only root filesystem.
func TestKubernetesManifests(t *testing.T) {
	objs := k8sObjects(t)
	for _, kind := range []string{"Deployment", "ConfigMap", "PodMonitor", "Kustomization"} {
		one(t, objs, kind)
	}
	dep, cm := one(t, objs, "Deployment"), one(t, objs, "ConfigMap")
	pod := dep.Spec.Template.Spec
	cfg, err := parseKubeConfig(t, cm.Data["config.yaml"])
	if err != nil {
		t.Fatalf("ConfigMap config.yaml: %v", err)
	}
	var tc *container
	for i := range pod.Containers {
		if pod.Containers[i].Name == "trailcar" {
			tc = &pod.Containers[i]
		}
	}
	if tc == nil || len(pod.Containers) < 2 {
		t.Fatalf("want the app and a trailcar container, got %d containers", len(pod.Containers))
	}

	t.Run("args and config from the ConfigMap", func(t *testing.T) {
		if want := []string{"serve", "--config", "/etc/trailcar/config.yaml"}; !slices.Equal(tc.Args, want) {
			t.Errorf("args %v, want %v", tc.Args, want)
		}
		vol := mountAt(t, pod, *tc, "/etc/trailcar/config.yaml")
		if vol.ConfigMap == nil || vol.ConfigMap.Name != cm.Metadata.Name {
			t.Errorf("config.yaml not mounted from ConfigMap %s", cm.Metadata.Name)
		}
	})
	t.Run("ports match the config", func(t *testing.T) {
		if p := portOf(t, cfg.Listen); tc.port("proxy") != p {
			t.Errorf("container port proxy %d, config listen %q", tc.port("proxy"), cfg.Listen)
		}
		if p := portOf(t, cfg.Admin.Listen); tc.port("admin") != p {
			t.Errorf("container port admin %d, config admin.listen %q", tc.port("admin"), cfg.Admin.Listen)
		}
		if host, _, _ := net.SplitHostPort(cfg.Admin.Listen); host == "127.0.0.1" || host == "localhost" {
			t.Errorf("admin.listen %q: the kubelet's probes and Prometheus cannot reach loopback", cfg.Admin.Listen)
		}
	})
	t.Run("probes on the admin port", func(t *testing.T) {
		for _, p := range []struct {
			name, path string
			probe      *probe
		}{{"readiness", "/readyz", tc.ReadinessProbe}, {"liveness", "/healthz", tc.LivenessProbe}} {
			if p.probe == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != "admin" {
				t.Errorf("%s probe %+v, want GET %s on port admin", p.name, p.probe, p.path)
			}
		}
	})
	t.Run("log dir shared on an emptyDir", func(t *testing.T) {
		vol := mountAt(t, pod, *tc, cfg.ActivityTracker.Dir)
		if vol.EmptyDir == nil {
			t.Fatalf("volume %s at the log dir %s is not an emptyDir", vol.Name, cfg.ActivityTracker.Dir)
		}
		sharers := 0
		for _, c := range pod.Containers {
			for _, m := range c.VolumeMounts {
				if m.Name == vol.Name {
					sharers++
					if c.Name == "trailcar" && m.ReadOnly {
						t.Error("trailcar's log dir is read-only")
					}
				}
			}
		}
		if sharers < 2 {
			t.Errorf("volume %s is mounted by %d containers, want it shared", vol.Name, sharers)
		}
	})
	t.Run("token from a Secret at token_file", func(t *testing.T) {
		if cfg.Admin.TokenFile == "" {
			t.Fatal("admin.token_file not set")
		}
		vol := mountAt(t, pod, *tc, path.Dir(cfg.Admin.TokenFile))
		if vol.Secret == nil || vol.Secret.SecretName == "" {
			t.Errorf("token_file %s is not on a Secret volume", cfg.Admin.TokenFile)
		}
	})
	t.Run("Service on the proxy port", func(t *testing.T) {
		svc := named(t, objs, "Service", "console")
		if len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].TargetPort != "proxy" {
			t.Errorf("Service ports %+v, want targetPort proxy", svc.Spec.Ports)
		}
		var raw struct {
			Spec struct {
				Selector map[string]string `yaml:"selector"`
			} `yaml:"spec"`
		}
		data, _ := os.ReadFile("kubernetes/service.yaml")
		if err := yaml.Unmarshal(data, &raw); err != nil || !selects(raw.Spec.Selector, dep.Spec.Template.Metadata.Labels) {
			t.Errorf("Service selector %v does not select the pod labels %v", raw.Spec.Selector, dep.Spec.Template.Metadata.Labels)
		}
	})
	t.Run("scraped on the admin port", func(t *testing.T) {
		a := dep.Spec.Template.Metadata.Annotations
		if a["prometheus.io/scrape"] != "true" || a["prometheus.io/path"] != "/metrics" || a["prometheus.io/port"] != strconv.Itoa(tc.port("admin")) {
			t.Errorf("annotations %v, want scrape true, path /metrics, port %d", a, tc.port("admin"))
		}
		pm := one(t, objs, "PodMonitor")
		if len(pm.Spec.PodMetricsEndpoints) != 1 || pm.Spec.PodMetricsEndpoints[0].Port != "admin" || pm.Spec.PodMetricsEndpoints[0].Scheme != "https" ||
			pm.Spec.PodMetricsEndpoints[0].Path != "/metrics" || !selects(pm.Spec.Selector.MatchLabels, dep.Spec.Template.Metadata.Labels) {
			t.Errorf("PodMonitor %+v, want port admin, https, /metrics, selecting the pod", pm.Spec)
		}
	})
	t.Run("non-root, read-only root filesystem, resources", func(t *testing.T) {
		if sc := pod.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.FSGroup == 0 {
			t.Errorf("pod securityContext: want runAsNonRoot and an fsGroup")
		}
		for _, c := range pod.Containers {
			if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
				t.Errorf("container %s: want readOnlyRootFilesystem and no privilege escalation", c.Name)
			}
			if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
				t.Errorf("container %s: want cpu and memory requests and a memory limit", c.Name)
			}
		}
	})
	t.Run("kustomization lists existing files", func(t *testing.T) {
		for _, r := range one(t, objs, "Kustomization").Resources {
			if _, err := os.Stat(filepath.Join("kubernetes", r)); err != nil {
				t.Error(err)
			}
		}
	})
}

// mountAt returns the volume mounted in c at dir (or holding the file
// dir), failing when there is none.
func mountAt(t *testing.T, pod podSpec, c container, dir string) volume {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) != path.Clean(dir) {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name {
				return v
			}
		}
		t.Fatalf("mount %s names no volume %s", m.MountPath, m.Name)
	}
	t.Fatalf("container %s mounts nothing at %s", c.Name, dir)
	return volume{}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%q: %v", addr, err)
	}
	return n
}

// selects reports whether every label of selector is on labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesCluster: the headless Service lists every pod's admin
// port, the ConfigMap's cluster.peers names it, and the StatefulSet
// variant runs the Deployment's pod with the log dir on a
// PersistentVolumeClaim per pod, named by that Service.
func TestKubernetesCluster(t *testing.T) {
	objs := k8sObjects(t)
	dep, cm := one(t, objs, "Deployment"), one(t, objs, "ConfigMap")
	cfg, err := parseKubeConfig(t, cm.Data["config.yaml"])
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Metadata struct{ Name string } `yaml:"metadata"`
		Spec     struct {
			ClusterIP string            `yaml:"clusterIP"`
			Selector  map[string]string `yaml:"selector"`
			Ports     []struct {
				Port       int    `yaml:"port"`
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	data, _ := os.ReadFile("kubernetes/admin-service.yaml")
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Spec.ClusterIP != "None" || !selects(raw.Spec.Selector, dep.Spec.Template.Metadata.Labels) ||
		len(raw.Spec.Ports) != 1 || raw.Spec.Ports[0].TargetPort != "admin" || raw.Spec.Ports[0].Port != portOf(t, cfg.Admin.Listen) {
		t.Errorf("admin Service %+v: want headless, selecting the pods, on the admin port", raw.Spec)
	}
	want := fmt.Sprintf("dns+https://%s:%d", raw.Metadata.Name, raw.Spec.Ports[0].Port)
	if !slices.Equal(cfg.Cluster.Peers, []string{want}) {
		t.Errorf("cluster.peers %v, want [%s]", cfg.Cluster.Peers, want)
	}
	t.Run("TLS from a Secret that cert-manager fills, naming the Service", func(t *testing.T) {
		pod := dep.Spec.Template.Spec
		var tc container
		for _, c := range pod.Containers {
			if c.Name == "trailcar" {
				tc = c
			}
		}
		if cfg.Cluster.CAFile == "" || cfg.Admin.TLSCertFile == "" || cfg.Admin.TLSKeyFile == "" {
			t.Fatalf("cluster.ca_file %q, admin.tls_cert_file %q, tls_key_file %q: want all set", cfg.Cluster.CAFile, cfg.Admin.TLSCertFile, cfg.Admin.TLSKeyFile)
		}
		var secret string
		for _, f := range []string{cfg.Cluster.CAFile, cfg.Admin.TLSCertFile, cfg.Admin.TLSKeyFile} {
			vol := mountAt(t, pod, tc, path.Dir(f))
			if vol.Secret == nil || secret != "" && vol.Secret.SecretName != secret {
				t.Fatalf("%s is not on the TLS Secret's volume", f)
			}
			secret = vol.Secret.SecretName
		}
		var serving *k8sObject
		for i, c := range objs["Certificate"] {
			if c.Spec.SecretName == secret {
				serving = &objs["Certificate"][i]
			}
		}
		if serving == nil || !slices.Contains(serving.Spec.DNSNames, raw.Metadata.Name) {
			t.Errorf("no Certificate fills Secret %s with a name of Service %s: %+v", secret, raw.Metadata.Name, serving)
		}
		for _, name := range []string{"readiness", "liveness"} {
			p := tc.ReadinessProbe
			if name == "liveness" {
				p = tc.LivenessProbe
			}
			if p.HTTPGet.Scheme != "HTTPS" {
				t.Errorf("%s probe scheme %q: the admin port serves HTTPS only", name, p.HTTPGet.Scheme)
			}
		}
		if dep.Spec.Template.Metadata.Annotations["prometheus.io/scheme"] != "https" {
			t.Error("the pod's scrape annotations do not say https")
		}
	})

	var sts struct {
		Kind string `yaml:"kind"`
		Spec struct {
			ServiceName string `yaml:"serviceName"`
			Template    struct {
				Spec podSpec `yaml:"spec"`
			} `yaml:"template"`
			VolumeClaimTemplates []struct {
				Metadata struct{ Name string } `yaml:"metadata"`
			} `yaml:"volumeClaimTemplates"`
		} `yaml:"spec"`
	}
	data, _ = os.ReadFile("kubernetes/statefulset/statefulset.yaml")
	if err := yaml.Unmarshal(data, &sts); err != nil {
		t.Fatal(err)
	}
	if sts.Kind != "StatefulSet" || sts.Spec.ServiceName != raw.Metadata.Name {
		t.Fatalf("%s serviceName %q, want a StatefulSet named by %s", sts.Kind, sts.Spec.ServiceName, raw.Metadata.Name)
	}
	var tc container
	for _, c := range sts.Spec.Template.Spec.Containers {
		if c.Name == "trailcar" {
			tc = c
		}
	}
	found := false
	for _, m := range tc.VolumeMounts {
		if path.Clean(m.MountPath) == path.Clean(cfg.ActivityTracker.Dir) {
			for _, v := range sts.Spec.VolumeClaimTemplates {
				found = found || v.Metadata.Name == m.Name
			}
		}
	}
	if !found {
		t.Errorf("the log dir %s is not on a volumeClaimTemplate", cfg.ActivityTracker.Dir)
	}
	if len(sts.Spec.Template.Spec.Containers) != len(dep.Spec.Template.Spec.Containers) {
		t.Errorf("the StatefulSet's pod has %d containers, the Deployment's %d", len(sts.Spec.Template.Spec.Containers), len(dep.Spec.Template.Spec.Containers))
	}
}

// TestKubernetesNetworkPolicy: the NetworkPolicy selects the console's
// pods and admits to the admin port only the console's pods (the cluster
// peers) and pods of the monitoring namespace, never the whole network;
// the proxy port stays open. It is in the kustomization.
func TestKubernetesNetworkPolicy(t *testing.T) {
	objs := k8sObjects(t)
	np, dep := named(t, objs, "NetworkPolicy", "console-trailcar"), one(t, objs, "Deployment")
	labels := dep.Spec.Template.Metadata.Labels
	if !selects(np.Spec.PodSelector.MatchLabels, labels) {
		t.Fatalf("podSelector %v does not select the pods %v", np.Spec.PodSelector.MatchLabels, labels)
	}
	proxyOpen, peersAdmitted := false, false
	for i, rule := range np.Spec.Ingress {
		admin := len(rule.Ports) == 0 // no ports: every port
		for _, p := range rule.Ports {
			admin = admin || p.Port == "admin" || p.Port == "9090"
			proxyOpen = proxyOpen || len(rule.From) == 0 && p.Port == "proxy"
		}
		if !admin {
			continue
		}
		if len(rule.From) == 0 {
			t.Errorf("ingress rule %d admits the admin port from everywhere", i)
		}
		for _, f := range rule.From {
			switch {
			case f.IPBlock != nil:
				t.Errorf("ingress rule %d admits the admin port from an ipBlock", i)
			case f.NamespaceSelector == nil && f.PodSelector != nil && selects(f.PodSelector.MatchLabels, labels):
				peersAdmitted = true
			case f.NamespaceSelector == nil:
				t.Errorf("ingress rule %d admits the admin port from pods other than the console's: %+v", i, f.PodSelector)
			case f.PodSelector == nil:
				t.Errorf("ingress rule %d admits the admin port from every pod of a namespace", i)
			}
		}
	}
	if !proxyOpen || !peersAdmitted {
		t.Errorf("proxy port open to all: %v; admin port open to the peers: %v", proxyOpen, peersAdmitted)
	}
	if !slices.Contains(one(t, objs, "Kustomization").Resources, "networkpolicy.yaml") {
		t.Error("networkpolicy.yaml is not in the kustomization")
	}
}
