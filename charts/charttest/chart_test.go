// Package charttest checks the Helm chart in charts/cairn without a cluster:
// helm lint and helm template over the chart's own values and every example,
// every rendered object decoded strictly into its Kubernetes API type, cairn's
// config file read by cairn's own config package, and the values that must
// not render refused with the message that says why.
package charttest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/signing"
)

const (
	chartDir  = "../cairn"
	release   = "cairn"
	namespace = "registry"
)

// helm finds the helm binary: on PATH, or where the Makefile installs the
// test tools. Under make test (CAIRN_BIN set) a missing helm is a failure,
// so the chart is never left unchecked there by accident.
func helm(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "cairn-tools", "bin", "helm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CAIRN_BIN") != "" {
		t.Fatal("helm is not on PATH nor in ~/.cache/cairn-tools/bin: run make tools")
	}
	t.Skip("SKIPPED: helm is not on PATH nor in ~/.cache/cairn-tools/bin (make tools installs it); the chart is not checked")
	return ""
}

func runHelm(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// objects is one rendering, each object in its API type, by name.
type objects struct {
	deployments     map[string]*appsv1.Deployment
	statefulSets    map[string]*appsv1.StatefulSet
	services        map[string]*corev1.Service
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	claims          map[string]*corev1.PersistentVolumeClaim
	serviceAccounts map[string]*corev1.ServiceAccount
	ingresses       map[string]*networkingv1.Ingress
	networkPolicies map[string]*networkingv1.NetworkPolicy
	budgets         map[string]*policyv1.PodDisruptionBudget
	serviceMonitors map[string]*serviceMonitor
}

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor the
// chart writes; its Go type lives in a module too large to import for this.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// add files obj under its name, refusing a second object of one kind and name.
func add[T any](m map[string]*T, name string, obj *T) error {
	if _, dup := m[name]; dup {
		return fmt.Errorf("two objects named %q of one kind", name)
	}
	m[name] = obj
	return nil
}

// decodeAs decodes doc strictly (an unknown or misspelt field, or a key
// given twice, is an error) into a new T and files it.
func decodeAs[T any](doc []byte, m map[string]*T, name string) error {
	obj := new(T)
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return err
	}
	return add(m, name, obj)
}

// decode splits helm's output into objects, each decoded into the Go type of
// its apiVersion and kind; a kind the chart should not render is an error.
func decode(manifest string) (*objects, error) {
	o := &objects{
		deployments:     map[string]*appsv1.Deployment{},
		statefulSets:    map[string]*appsv1.StatefulSet{},
		services:        map[string]*corev1.Service{},
		configMaps:      map[string]*corev1.ConfigMap{},
		secrets:         map[string]*corev1.Secret{},
		claims:          map[string]*corev1.PersistentVolumeClaim{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
		ingresses:       map[string]*networkingv1.Ingress{},
		networkPolicies: map[string]*networkingv1.NetworkPolicy{},
		budgets:         map[string]*policyv1.PodDisruptionBudget{},
		serviceMonitors: map[string]*serviceMonitor{},
	}
	for i, doc := range splitDocuments(manifest) {
		var head struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("document %d: %w\n%s", i, err, doc)
		}
		if head.Kind == "" && head.APIVersion == "" {
			continue // only comments
		}
		name := head.Metadata.Name
		if name == "" {
			return nil, fmt.Errorf("document %d (%s %s) has no metadata.name", i, head.APIVersion, head.Kind)
		}
		if head.Metadata.Namespace != namespace {
			return nil, fmt.Errorf("%s %s is in namespace %q, not the release's %q", head.Kind, name, head.Metadata.Namespace, namespace)
		}
		var err error
		switch head.APIVersion + " " + head.Kind {
		case "apps/v1 Deployment":
			err = decodeAs(doc, o.deployments, name)
		case "apps/v1 StatefulSet":
			err = decodeAs(doc, o.statefulSets, name)
		case "v1 Service":
			err = decodeAs(doc, o.services, name)
		case "v1 ConfigMap":
			err = decodeAs(doc, o.configMaps, name)
		case "v1 Secret":
			err = decodeAs(doc, o.secrets, name)
		case "v1 PersistentVolumeClaim":
			err = decodeAs(doc, o.claims, name)
		case "v1 ServiceAccount":
			err = decodeAs(doc, o.serviceAccounts, name)
		case "networking.k8s.io/v1 Ingress":
			err = decodeAs(doc, o.ingresses, name)
		case "networking.k8s.io/v1 NetworkPolicy":
			err = decodeAs(doc, o.networkPolicies, name)
		case "policy/v1 PodDisruptionBudget":
			err = decodeAs(doc, o.budgets, name)
		case "monitoring.coreos.com/v1 ServiceMonitor":
			err = decodeAs(doc, o.serviceMonitors, name)
		default:
			err = errors.New("a kind this test does not know: add its Go type to decode")
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s %s: %w", head.APIVersion, head.Kind, name, err)
		}
	}
	return o, nil
}

// splitDocuments cuts a multi-document YAML stream at its "---" lines.
func splitDocuments(s string) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimRight(line, " ") == "---" {
			docs = append(docs, bytes.Clone(cur.Bytes()))
			cur.Reset()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	return append(docs, cur.Bytes())
}

// values reads a values file as the chart would see it over its defaults,
// for the few settings the checks compare against.
type values struct {
	ReplicaCount       *int32 `json:"replicaCount"`
	CatalogMemoryIndex *bool  `json:"catalogMemoryIndex"`
	Catalog            struct {
		Type     string `json:"type"`
		Postgres struct {
			DSN            string `json:"dsn"`
			ExistingSecret string `json:"existingSecret"`
			SecretKey      string `json:"secretKey"`
		} `json:"postgres"`
	} `json:"catalog"`
	Auth struct {
		Enabled bool `json:"enabled"`
	} `json:"auth"`
	SigningKey struct {
		ExistingSecret string `json:"existingSecret"`
		SecretKey      string `json:"secretKey"`
	} `json:"signingKey"`
	TrustKeysConfigMap string `json:"trustKeysConfigMap"`
	ServiceMonitor     struct {
		Enabled bool `json:"enabled"`
	} `json:"serviceMonitor"`
	Ingress struct {
		Enabled bool   `json:"enabled"`
		Host    string `json:"host"`
		TLS     struct {
			Enabled    bool   `json:"enabled"`
			SecretName string `json:"secretName"`
		} `json:"tls"`
	} `json:"ingress"`
	Zot struct {
		Enabled *bool `json:"enabled"`
	} `json:"zot"`
}

func readValues(t *testing.T, files ...string) values {
	t.Helper()
	var v values
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Later files override earlier ones key by key, as helm merges them.
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return v
}

// rendering is one helm template run with what the checks need.
type rendering struct {
	v    values
	objs *objects
}

func (r rendering) zot() bool { return r.v.Zot.Enabled == nil || *r.v.Zot.Enabled }

func (r rendering) postgres() bool { return r.v.Catalog.Type == "postgres" }

func (r rendering) replicas() int32 {
	if r.v.ReplicaCount == nil {
		return 1
	}
	return *r.v.ReplicaCount
}

func render(t *testing.T, file string) rendering {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", namespace}
	files := []string{filepath.Join(chartDir, "values.yaml")}
	if file != "" {
		args = append(args, "-f", file)
		files = append(files, file)
	}
	out, stderr, err := runHelm(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	objs, err := decode(out)
	if err != nil {
		t.Fatalf("rendered objects do not decode into their Kubernetes types: %v", err)
	}
	return rendering{v: readValues(t, files...), objs: objs}
}

// exampleFiles are the chart's own values (the empty name) and every file
// in examples/, so a new example is checked without touching this test.
func exampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no example values files in charts/cairn/examples")
	}
	return append([]string{""}, files...)
}

func name(file string) string {
	if file == "" {
		return "defaults"
	}
	return strings.TrimSuffix(filepath.Base(file), ".yaml")
}

func TestLint(t *testing.T) {
	for _, f := range exampleFiles(t) {
		t.Run(name(f), func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir, "--namespace", namespace}
			if f != "" {
				args = append(args, "-f", f)
			}
			out, stderr, err := runHelm(t, args...)
			if err != nil {
				t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
			}
		})
	}
}

// TestRender renders the chart with each values file and checks what must
// hold for every one, then what that file is for.
func TestRender(t *testing.T) {
	specific := map[string]func(*testing.T, rendering){
		"defaults":            checkDefaults,
		"postgres-3-replicas": checkPostgres3,
		"ingress-tls":         checkIngressTLS,
		"existing-secrets":    checkExistingSecrets,
		"embedded":            checkEmbedded,
	}
	for _, f := range exampleFiles(t) {
		t.Run(name(f), func(t *testing.T) {
			r := render(t, f)
			checkCairn(t, r)
			checkZot(t, r)
			check, ok := specific[name(f)]
			if !ok {
				t.Fatalf("example %s has no checks of its own: add them to TestRender", f)
			}
			check(t, r)
		})
	}
}

// TestBadValues renders each file under testdata/bad, which must fail with
// the messages its "# want:" lines name.
func TestBadValues(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir, "testdata", "bad", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in charts/cairn/testdata/bad")
	}
	for _, f := range files {
		t.Run(name(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var wants []string
			for line := range strings.Lines(string(b)) {
				if w, ok := strings.CutPrefix(line, "# want:"); ok {
					wants = append(wants, strings.TrimSpace(w))
				}
			}
			if len(wants) == 0 {
				t.Fatalf("%s has no '# want: MESSAGE' line", f)
			}
			out, stderr, err := runHelm(t, "template", release, chartDir, "--namespace", namespace, "-f", f)
			if err == nil {
				t.Fatalf("helm template rendered %s; it must refuse it:\n%s", f, out)
			}
			for _, w := range wants {
				if !strings.Contains(stderr, w) {
					t.Errorf("helm's error does not say %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// The fixed places the chart puts things in cairn's container.
const (
	configPath = "/etc/cairn/cairn.yaml"
	trustDir   = "/etc/cairn/trust"
)

func cairnDeployment(t *testing.T, r rendering) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	d, ok := r.objs.deployments[release]
	if !ok || len(r.objs.deployments) != 1 {
		t.Fatalf("want one Deployment %q, have %v", release, keys(r.objs.deployments))
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("Deployment has %d containers, want 1", len(d.Spec.Template.Spec.Containers))
	}
	return d, &d.Spec.Template.Spec.Containers[0]
}

// checkCairn checks cairn's Deployment, Service, config and Secrets, as
// they must be whatever the values.
func checkCairn(t *testing.T, r rendering) {
	d, c := cairnDeployment(t, r)
	pod := d.Spec.Template.Spec

	if got, want := ptrOr(d.Spec.Replicas, 1), r.replicas(); got != want {
		t.Errorf("Deployment replicas %d, want %d", got, want)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("pod template lacks the selector's label %s=%s", k, v)
		}
	}
	if !slices.Equal(c.Args, []string{"serve", "--config", configPath}) {
		t.Errorf("cairn's args %q, want serve --config %s", c.Args, configPath)
	}

	// Probes: /healthz says the process lives, /readyz that engine and
	// catalog answer.
	httpPort := containerPort(t, c, "http")
	for _, p := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{{"startup", c.StartupProbe, "/healthz"}, {"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", p.what)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe GETs %s on port %s, want %s on http", p.what, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}

	checkLockedDown(t, "cairn", pod, c)

	// Every mount has its volume, and every volume's source is rendered
	// or named by the values as existing.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		if _, ok := vols[m.Name]; !ok {
			t.Errorf("mount %s names no volume", m.Name)
		}
		mounts[m.MountPath] = m
	}
	if m, ok := mounts["/tmp"]; !ok || vols[m.Name].EmptyDir == nil {
		t.Errorf("/tmp is not an emptyDir (the root filesystem is read-only)")
	}
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil:
			if _, ok := r.objs.configMaps[v.ConfigMap.Name]; !ok && v.ConfigMap.Name != r.v.TrustKeysConfigMap {
				t.Errorf("volume %s: ConfigMap %s is neither rendered nor named in the values", v.Name, v.ConfigMap.Name)
			}
		case v.Secret != nil:
			if _, ok := r.objs.secrets[v.Secret.SecretName]; !ok && v.Secret.SecretName != r.v.SigningKey.ExistingSecret {
				t.Errorf("volume %s: Secret %s is neither rendered nor named in the values", v.Name, v.Secret.SecretName)
			}
		case v.PersistentVolumeClaim != nil:
			if _, ok := r.objs.claims[v.PersistentVolumeClaim.ClaimName]; !ok {
				t.Errorf("volume %s: claim %s is not rendered", v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}

	// The config file parses with cairn's own loader, unknown keys refused,
	// and passes cairn's own validation.
	m, ok := mounts[configPath]
	if !ok {
		t.Fatalf("nothing mounted at %s", configPath)
	}
	cm, ok := r.objs.configMaps[vols[m.Name].ConfigMap.Name]
	if !ok {
		t.Fatalf("the config volume is not a rendered ConfigMap")
	}
	text, ok := cm.Data[m.SubPath]
	if !ok {
		t.Fatalf("ConfigMap %s has no %s", cm.Name, m.SubPath)
	}
	cfg := loadConfig(t, text, env(c))

	if cfg.Addr != fmt.Sprintf("0.0.0.0:%d", httpPort) {
		t.Errorf("cairn listens on %s, the container's port is %d", cfg.Addr, httpPort)
	}
	if data, ok := mounts[cfg.DataDir]; !ok {
		t.Errorf("data_dir %s is not a mounted volume", cfg.DataDir)
	} else if v := vols[data.Name]; r.postgres() && r.zot() {
		if v.EmptyDir == nil {
			t.Errorf("with PostgreSQL and zot the data directory holds nothing lasting; want an emptyDir, have %+v", v.VolumeSource)
		}
	} else if v.PersistentVolumeClaim == nil {
		t.Errorf("data_dir %s holds the SQLite catalog or the blobs but is not on a PersistentVolumeClaim", cfg.DataDir)
	}

	// The DSN reaches cairn from a Secret, never through the ConfigMap.
	for _, cm := range r.objs.configMaps {
		for k, v := range cm.Data {
			if strings.Contains(v, "postgres://") || strings.Contains(v, "postgresql://") {
				t.Errorf("ConfigMap %s/%s holds a PostgreSQL DSN; it belongs in a Secret", cm.Name, k)
			}
		}
	}
	dsnEnv := envVar(c, "CAIRN_CATALOG")
	if !r.postgres() {
		if dsnEnv != nil {
			t.Errorf("CAIRN_CATALOG is set with a SQLite catalog")
		}
		if !strings.HasPrefix(cfg.CatalogDSN(), cfg.DataDir+"/") {
			t.Errorf("SQLite catalog at %s, outside data_dir %s", cfg.CatalogDSN(), cfg.DataDir)
		}
	} else {
		if dsnEnv == nil || dsnEnv.ValueFrom == nil || dsnEnv.ValueFrom.SecretKeyRef == nil || dsnEnv.Value != "" {
			t.Fatalf("CAIRN_CATALOG does not come from a Secret: %+v", dsnEnv)
		}
		ref := dsnEnv.ValueFrom.SecretKeyRef
		if ex := r.v.Catalog.Postgres.ExistingSecret; ex != "" {
			if ref.Name != ex || ref.Key != r.v.Catalog.Postgres.SecretKey {
				t.Errorf("CAIRN_CATALOG from %s[%s], want the existing %s[%s]", ref.Name, ref.Key, ex, r.v.Catalog.Postgres.SecretKey)
			}
			if _, made := r.objs.secrets[ex]; made {
				t.Errorf("the chart renders Secret %s that the values say exists", ex)
			}
		} else {
			s, ok := r.objs.secrets[ref.Name]
			if !ok {
				t.Fatalf("CAIRN_CATALOG names Secret %s, which is not rendered", ref.Name)
			}
			if dsn := string(s.Data[ref.Key]); dsn != r.v.Catalog.Postgres.DSN || !config.IsPostgres(dsn) {
				t.Errorf("Secret %s[%s] holds %q, want the DSN %q", ref.Name, ref.Key, dsn, r.v.Catalog.Postgres.DSN)
			}
		}
	}

	if want := r.v.CatalogMemoryIndex == nil || *r.v.CatalogMemoryIndex; cfg.CatalogMemoryIndex != want {
		t.Errorf("catalog_memory_index %v in cairn's config, want %v from the values", cfg.CatalogMemoryIndex, want)
	}

	// The token-signing key: mounted where the config says, from a Secret
	// every replica shares, in the form cairn's loader reads.
	if r.v.Auth.Enabled != cfg.Auth.Enabled {
		t.Errorf("auth.enabled %v in the values, %v in cairn's config", r.v.Auth.Enabled, cfg.Auth.Enabled)
	}
	if cfg.Auth.Enabled {
		dir, file := filepath.Split(cfg.Auth.SigningKey)
		km, ok := mounts[filepath.Clean(dir)]
		if !ok || vols[km.Name].Secret == nil {
			t.Fatalf("signing key %s is not on a mounted Secret", cfg.Auth.SigningKey)
		}
		secretName := vols[km.Name].Secret.SecretName
		if ex := r.v.SigningKey.ExistingSecret; ex != "" {
			if secretName != ex || file != r.v.SigningKey.SecretKey {
				t.Errorf("signing key from %s[%s], want the existing %s[%s]", secretName, file, ex, r.v.SigningKey.SecretKey)
			}
		} else {
			s, ok := r.objs.secrets[secretName]
			if !ok {
				t.Fatalf("signing key Secret %s is not rendered", secretName)
			}
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(path, s.Data[file], 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := auth.LoadOrCreateKey(path); err != nil {
				t.Errorf("cairn cannot read the generated signing key: %v", err)
			}
		}
	} else if len(r.objs.secrets) > 0 && !r.postgres() {
		t.Errorf("Secrets rendered with neither auth nor PostgreSQL: %v", keys(r.objs.secrets))
	}

	// Trust keys named in the config are files of the mounted trust keys.
	for _, rule := range cfg.Trust {
		for _, k := range rule.Keys {
			if filepath.Dir(k) != trustDir {
				continue // a file the operator mounts some other way
			}
			tm, ok := mounts[trustDir]
			if !ok {
				t.Errorf("trust key %s: nothing is mounted at %s", k, trustDir)
				continue
			}
			cmName := vols[tm.Name].ConfigMap.Name
			if cmName == r.v.TrustKeysConfigMap {
				continue // its content is the operator's
			}
			pem, ok := r.objs.configMaps[cmName].Data[filepath.Base(k)]
			if !ok {
				t.Errorf("trust key %s is not in ConfigMap %s", k, cmName)
				continue
			}
			if _, err := signing.ParsePublicKey([]byte(pem)); err != nil {
				t.Errorf("trust key %s: %v", k, err)
			}
		}
	}

	// The Service reaches cairn's pods on the container's port.
	svc, ok := r.objs.services[release]
	if !ok {
		t.Fatalf("no Service %q", release)
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Service %s selects %s=%s, which cairn's pods lack", svc.Name, k, v)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service %s ports %+v, want one to the http port", svc.Name, svc.Spec.Ports)
	}

	// The ServiceMonitor exists only when asked for, and scrapes /metrics.
	if !r.v.ServiceMonitor.Enabled {
		if len(r.objs.serviceMonitors) > 0 {
			t.Errorf("ServiceMonitor rendered though serviceMonitor.enabled is false")
		}
	} else {
		sm, ok := r.objs.serviceMonitors[release]
		if !ok {
			t.Fatalf("serviceMonitor.enabled but no ServiceMonitor %q", release)
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name {
			t.Errorf("ServiceMonitor endpoints %+v, want /metrics on port %s", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
		}
		for k, v := range sm.Spec.Selector.MatchLabels {
			if svc.Labels[k] != v {
				t.Errorf("ServiceMonitor selects %s=%s, which the Service lacks", k, v)
			}
		}
	}

	// More than one replica: a disruption budget keeps one serving.
	if _, ok := r.objs.budgets[release]; ok != (r.replicas() > 1) {
		t.Errorf("PodDisruptionBudget rendered: %v, with %d replicas", ok, r.replicas())
	}
}

// checkZot checks zot's StatefulSet, Service and config.json in zot mode,
// and that nothing of zot is rendered in embedded mode.
func checkZot(t *testing.T, r rendering) {
	zotName := release + "-zot"
	_, c := cairnDeployment(t, r)
	cfg := loadConfig(t, cairnConfigText(t, r), env(c))
	if !r.zot() {
		if len(r.objs.statefulSets) > 0 || r.objs.services[zotName] != nil || r.objs.configMaps[zotName] != nil {
			t.Errorf("zot objects rendered with zot.enabled false")
		}
		if cfg.Upstream.URL != "" {
			t.Errorf("embedded mode but upstream.url is %s", cfg.Upstream.URL)
		}
		return
	}
	ss, ok := r.objs.statefulSets[zotName]
	if !ok {
		t.Fatalf("no zot StatefulSet %q; have %v", zotName, keys(r.objs.statefulSets))
	}
	if ptrOr(ss.Spec.Replicas, 1) != 1 {
		t.Errorf("zot replicas %d, want 1", ptrOr(ss.Spec.Replicas, 1))
	}
	svc, ok := r.objs.services[zotName]
	if !ok {
		t.Fatalf("no zot Service %q", zotName)
	}
	if ss.Spec.ServiceName != svc.Name {
		t.Errorf("StatefulSet serviceName %s, want %s", ss.Spec.ServiceName, svc.Name)
	}
	for k, v := range svc.Spec.Selector {
		if ss.Spec.Template.Labels[k] != v {
			t.Errorf("zot Service selects %s=%s, which zot's pod lacks", k, v)
		}
	}
	if selects(r.objs.services[release].Spec.Selector, ss.Spec.Template.Labels) {
		t.Errorf("cairn's Service also selects zot's pod")
	}

	pod := ss.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("zot pod has %d containers", len(pod.Containers))
	}
	zc := &pod.Containers[0]
	checkLockedDown(t, "zot", pod, zc)
	port := containerPort(t, zc, "http")
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("zot Service ports %+v, want one to the http port", svc.Spec.Ports)
	}

	// cairn's upstream is zot's Service.
	if want := fmt.Sprintf("http://%s.%s.svc:%d", svc.Name, namespace, svc.Spec.Ports[0].Port); cfg.Upstream.URL != want {
		t.Errorf("cairn's upstream.url %s, want zot's Service %s", cfg.Upstream.URL, want)
	}

	// zot's config.json: storage on the claim, the port the Service uses, and
	// events posted to cairn's Service.
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range zc.VolumeMounts {
		mounts[m.MountPath] = m
	}
	m, ok := mounts["/etc/zot/config.json"]
	if !ok {
		t.Fatalf("zot's config.json is not mounted at /etc/zot/config.json")
	}
	if !slices.Equal(zc.Args, []string{"serve", "/etc/zot/config.json"}) {
		t.Errorf("zot's args %q, want serve /etc/zot/config.json", zc.Args)
	}
	var cmName string
	for _, v := range pod.Volumes {
		if v.Name == m.Name && v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	cm, ok := r.objs.configMaps[cmName]
	if !ok {
		t.Fatalf("zot's config volume is not a rendered ConfigMap")
	}
	var zcfg struct {
		Storage struct {
			RootDirectory string `json:"rootDirectory"`
		} `json:"storage"`
		HTTP struct {
			Address string `json:"address"`
			Port    string `json:"port"`
		} `json:"http"`
		Extensions struct {
			Events struct {
				Enable bool `json:"enable"`
				Sinks  []struct {
					Type    string `json:"type"`
					Address string `json:"address"`
					Timeout string `json:"timeout"`
				} `json:"sinks"`
			} `json:"events"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal([]byte(cm.Data[m.SubPath]), &zcfg); err != nil {
		t.Fatalf("zot's config.json is not JSON: %v\n%s", err, cm.Data[m.SubPath])
	}
	if zcfg.HTTP.Port != fmt.Sprint(port) || zcfg.HTTP.Address != "0.0.0.0" {
		t.Errorf("zot listens on %s:%s, its container port is %d", zcfg.HTTP.Address, zcfg.HTTP.Port, port)
	}
	sm, ok := mounts[zcfg.Storage.RootDirectory]
	if !ok {
		t.Errorf("zot's rootDirectory %s is not mounted", zcfg.Storage.RootDirectory)
	} else if !slices.ContainsFunc(ss.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool { return p.Name == sm.Name }) {
		t.Errorf("zot's storage %s is not on a volumeClaimTemplate", zcfg.Storage.RootDirectory)
	}
	cairnSvc := r.objs.services[release]
	want := fmt.Sprintf("http://%s.%s.svc:%d/api/v1/events", cairnSvc.Name, namespace, cairnSvc.Spec.Ports[0].Port)
	ev := zcfg.Extensions.Events
	if !ev.Enable || len(ev.Sinks) != 1 || ev.Sinks[0].Type != "http" || ev.Sinks[0].Address != want {
		t.Errorf("zot's events %+v, want one http sink to %s", ev, want)
	}

	// Only cairn may reach zot.
	np, ok := r.objs.networkPolicies[zotName]
	if !ok {
		t.Fatalf("no NetworkPolicy %q for zot", zotName)
	}
	d, _ := cairnDeployment(t, r)
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 1 || np.Spec.Ingress[0].From[0].PodSelector == nil {
		t.Fatalf("zot's NetworkPolicy ingress %+v, want one rule from cairn's pods", np.Spec.Ingress)
	}
	for k, v := range np.Spec.Ingress[0].From[0].PodSelector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("zot's NetworkPolicy admits %s=%s, which cairn's pods lack", k, v)
		}
	}
	for k, v := range np.Spec.PodSelector.MatchLabels {
		if ss.Spec.Template.Labels[k] != v {
			t.Errorf("zot's NetworkPolicy applies to %s=%s, which zot's pod lacks", k, v)
		}
	}
}

func checkDefaults(t *testing.T, r rendering) {
	d, _ := cairnDeployment(t, r)
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q with a SQLite file on a ReadWriteOnce claim, want Recreate", d.Spec.Strategy.Type)
	}
	if len(r.objs.claims) != 1 {
		t.Errorf("claims %v, want cairn's data claim only", keys(r.objs.claims))
	}
	if len(r.objs.ingresses)+len(r.objs.serviceMonitors)+len(r.objs.budgets)+len(r.objs.secrets) > 0 {
		t.Errorf("defaults render an Ingress, ServiceMonitor, PodDisruptionBudget or Secret")
	}
	if _, ok := r.objs.serviceAccounts[release]; !ok {
		t.Errorf("no ServiceAccount %q", release)
	}
}

func checkPostgres3(t *testing.T, r rendering) {
	d, _ := cairnDeployment(t, r)
	if ptrOr(d.Spec.Replicas, 1) != 3 {
		t.Errorf("replicas %d, want 3", ptrOr(d.Spec.Replicas, 1))
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		t.Errorf("three replicas on PostgreSQL with nothing on a claim should roll, not recreate")
	}
	if len(r.objs.claims) != 0 {
		t.Errorf("claims %v rendered for PostgreSQL with zot", keys(r.objs.claims))
	}
	cfg := loadConfig(t, cairnConfigText(t, r), nil)
	if len(cfg.Auth.Prefixes) != 2 || !cfg.Auth.Prefixes[1].Staging {
		t.Errorf("auth.prefixes did not pass through: %+v", cfg.Auth.Prefixes)
	}
	if _, ok := r.objs.secrets[release+"-catalog"]; !ok {
		t.Errorf("no catalog Secret; have %v", keys(r.objs.secrets))
	}
}

func checkIngressTLS(t *testing.T, r rendering) {
	ing, ok := r.objs.ingresses[release]
	if !ok {
		t.Fatalf("no Ingress %q", release)
	}
	host := r.v.Ingress.Host
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != r.v.Ingress.TLS.SecretName || !slices.Equal(ing.Spec.TLS[0].Hosts, []string{host}) {
		t.Errorf("Ingress TLS %+v, want %s for %s", ing.Spec.TLS, r.v.Ingress.TLS.SecretName, host)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != host || ing.Spec.Rules[0].HTTP == nil || len(ing.Spec.Rules[0].HTTP.Paths) != 1 {
		t.Fatalf("Ingress rules %+v, want one for %s", ing.Spec.Rules, host)
	}
	b := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	if b == nil || b.Name != release || b.Port.Name != "http" {
		t.Errorf("Ingress backend %+v, want Service %s port http", b, release)
	}
	cfg := loadConfig(t, cairnConfigText(t, r), nil)
	if want := "https://" + host + "/auth/token"; cfg.Auth.Realm != want {
		t.Errorf("realm %s, want %s from the Ingress host", cfg.Auth.Realm, want)
	}
}

func checkExistingSecrets(t *testing.T, r rendering) {
	if len(r.objs.secrets) > 0 {
		t.Errorf("the chart renders Secrets %v though the values name existing ones", keys(r.objs.secrets))
	}
	if _, ok := r.objs.configMaps[r.v.TrustKeysConfigMap]; ok {
		t.Errorf("the chart renders ConfigMap %s that the values say exists", r.v.TrustKeysConfigMap)
	}
	d, _ := cairnDeployment(t, r)
	var sawTrust bool
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == r.v.TrustKeysConfigMap {
			sawTrust = true
		}
	}
	if !sawTrust {
		t.Errorf("the existing trust ConfigMap %s is not mounted", r.v.TrustKeysConfigMap)
	}
}

func checkEmbedded(t *testing.T, r rendering) {
	d, _ := cairnDeployment(t, r)
	if len(r.objs.claims) != 1 {
		t.Errorf("claims %v, want cairn's data claim (blobs and catalog)", keys(r.objs.claims))
	}
	for _, c := range r.objs.claims {
		if c.Spec.StorageClassName == nil || *c.Spec.StorageClassName != "standard" {
			t.Errorf("claim %s storage class %v, want standard", c.Name, c.Spec.StorageClassName)
		}
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q with blobs on a ReadWriteOnce claim, want Recreate", d.Spec.Strategy.Type)
	}
	if len(r.objs.networkPolicies) > 0 {
		t.Errorf("NetworkPolicies %v rendered without zot", keys(r.objs.networkPolicies))
	}
}

// checkLockedDown checks a pod runs as non-root with nothing to escalate to.
func checkLockedDown(t *testing.T, what string, pod corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || !ptrOr(psc.RunAsNonRoot, false) || ptrOr(psc.RunAsUser, 0) != 65532 {
		t.Errorf("%s pod security context %+v, want runAsNonRoot as 65532", what, psc)
	}
	sc := c.SecurityContext
	if sc == nil {
		t.Fatalf("%s container has no security context", what)
	}
	if !ptrOr(sc.RunAsNonRoot, false) || ptrOr(sc.RunAsUser, 0) != 65532 {
		t.Errorf("%s container does not run as non-root 65532", what)
	}
	if !ptrOr(sc.ReadOnlyRootFilesystem, false) {
		t.Errorf("%s container's root filesystem is writable", what)
	}
	if ptrOr(sc.AllowPrivilegeEscalation, true) {
		t.Errorf("%s container allows privilege escalation", what)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s container capabilities %+v, want all dropped", what, sc.Capabilities)
	}
	if ptrOr(pod.AutomountServiceAccountToken, true) {
		t.Errorf("%s pod mounts a service account token it has no use for", what)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s container has no memory request or limit", what)
	}
}

// loadConfig reads text as cairn serve would: defaults, the file with
// unknown keys refused, then CAIRN_* variables that have plain values, then
// cairn's own validation.
func loadConfig(t *testing.T, text string, env map[string]string) config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cairn.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	if err := cfg.LoadFile(path); err != nil {
		t.Fatalf("cairn refuses the chart's config file: %v\n%s", err, text)
	}
	if cfg.Catalog != "" {
		t.Errorf("the config file names a catalog (%q); the DSN must come from a Secret", cfg.Catalog)
	}
	if _, ok := env["CAIRN_CATALOG"]; ok {
		cfg.Catalog = "postgres://from-the-secret/cairn"
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("cairn's validation refuses the chart's config: %v\n%s", err, text)
	}
	return cfg
}

func cairnConfigText(t *testing.T, r rendering) string {
	t.Helper()
	cm, ok := r.objs.configMaps[release]
	if !ok {
		t.Fatalf("no ConfigMap %q", release)
	}
	return cm.Data["cairn.yaml"]
}

// env maps the container's variables to their values ("" for those from a
// Secret).
func env(c *corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func containerPort(t *testing.T, c *corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %s", c.Name, name)
	return 0
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func keys[T any](m map[string]T) []string { return slices.Sorted(maps.Keys(m)) }

// selects reports whether a selector matches labels.
func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
