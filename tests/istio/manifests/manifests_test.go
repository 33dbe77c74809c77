// Package manifests applies every manifest the project ships to a real Kubernetes API server
// (kube-apiserver and etcd built from their Go modules, the projects' own CRDs) with server-side dry
// run: the API server's schema checks, defaulting, pruning, strict field validation and the CRDs'
// CEL rules judge them, as they judge `kubectl apply` on a cluster.
package manifests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"predictor-router/tests/istio/controlplane"
	"sigs.k8s.io/yaml"
)

var cluster *controlplane.Cluster

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "predictor-router-apiserver-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := run(m, dir)
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "control plane logs kept in %s\n", dir)
	}
	os.Exit(code)
}

func run(m *testing.M, dir string) int {
	var err error
	cluster, err = controlplane.StartCluster(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "the API server did not start:", err)
		return 1
	}
	defer cluster.Stop()
	crds, err := controlplane.CRDFiles()
	if err == nil {
		err = cluster.ApplyCRDs(crds)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "installing the CRDs:", err)
		return 1
	}
	fmt.Printf("kube-apiserver at %s with the CRDs of %s\n", cluster.URL, strings.Join(controlplane.CRDVersions(), ", "))
	return m.Run()
}

// shipped is every object under envoyfilter/ (kustomizations and the patches they apply aside: the
// renderings judge those), with their namespaces created for real.
func shipped(t *testing.T) []controlplane.Document {
	t.Helper()
	all, err := controlplane.ManifestDocuments("envoyfilter")
	if err != nil {
		t.Fatal(err)
	}
	kustomizePatches, err := controlplane.KustomizePatches()
	if err != nil {
		t.Fatal(err)
	}
	docs := []controlplane.Document{}
	for _, d := range all {
		if d.Kind != "Kustomization" && !kustomizePatches[d.File] {
			docs = append(docs, d)
		}
	}
	if len(docs) < 20 {
		t.Fatalf("only %d documents under envoyfilter/", len(docs))
	}
	namespaces := map[string]bool{}
	for _, d := range docs {
		if d.Namespace != "" {
			namespaces[d.Namespace] = true
		}
	}
	names := []string{}
	for n := range namespaces {
		names = append(names, n)
	}
	sort.Strings(names)
	if err := cluster.EnsureNamespaces(names); err != nil {
		t.Fatal(err)
	}
	return docs
}

// dryRun applies one document with server-side dry run (kubectl's default strict field validation).
func dryRun(doc []byte) (string, error) {
	return cluster.Kubectl(string(doc), "apply", "--dry-run=server", "-f", "-")
}

// Strategic-merge patches for objects that other installers own: applied with `kubectl patch` to
// the object as its installer creates it, not applied as objects of their own.
var patches = map[string]string{
	"envoyfilter/overlays/signed-overrides/gateway-deployment-patch.yaml": gatewayDeployment,
}

// gatewayDeployment is the ingress gateway's Deployment as the istio/gateway Helm chart creates it
// (the fields a patch can meet: selector, labels, the istio-proxy container).
const gatewayDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata: {labels: {istio: ingressgateway, sidecar.istio.io/inject: "false"}}
    spec:
      containers:
        - name: istio-proxy
          image: auto
          env: [{name: ISTIO_META_UNPRIVILEGED_POD, value: "true"}]
`

func TestEveryShippedDocumentIsAcceptedByTheAPIServer(t *testing.T) {
	docs := shipped(t)
	kinds := map[string]int{}
	for _, d := range docs {
		if target, ok := patches[d.File]; ok {
			out, err := patchDryRun(t, target, d)
			if err != nil {
				t.Errorf("%s refused as a patch:\n%v", d, err)
				continue
			}
			kinds[d.Kind]++
			fmt.Printf("accepted as a patch of the chart's %s: %s (%s)\n", d.Kind, d, strings.TrimSpace(out))
			continue
		}
		out, err := dryRun(d.Raw)
		if err != nil {
			t.Errorf("%s refused:\n%v", d, err)
			continue
		}
		// kubectl names what the server accepted: "<resource>/<name> created (server dry run)".
		if !strings.Contains(out, "/"+d.Name+" ") || !strings.Contains(out, "(server dry run)") {
			t.Errorf("%s: unexpected answer %q", d, out)
			continue
		}
		kinds[d.Kind]++
		fmt.Printf("accepted: %s (%s)\n", d, strings.TrimSpace(out))
	}
	t.Logf("%d documents of %d kinds accepted", len(docs), len(kinds))
	for _, kind := range []string{"WasmPlugin", "VirtualService", "DestinationRule", "Gateway", "HTTPRoute",
		"EnvoyExtensionPolicy", "SeldonDeployment", "InferenceService", "PodMonitor", "PrometheusRule", "EnvoyFilter"} {
		if kinds[kind] == 0 {
			t.Errorf("no %s was applied: the walk over envoyfilter/ missed it", kind)
		}
	}
}

// patchDryRun creates target for real (once) and applies d to it as a strategic-merge patch with
// server-side dry run; it checks that the patched object carries the patch's environment variable.
func patchDryRun(t *testing.T, target string, d controlplane.Document) (string, error) {
	t.Helper()
	if _, err := cluster.Kubectl(target, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "patch.yaml")
	if err := os.WriteFile(path, d.Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := cluster.Kubectl("", "patch", "--dry-run=server", "-n", d.Namespace, strings.ToLower(d.Kind), d.Name,
		"--patch-file", path, "-o", "json")
	if err != nil {
		return "", err
	}
	if !strings.Contains(out, `"name": "PREDICTOR_ROUTER_KEYS"`) || !strings.Contains(out, `"name": "ISTIO_META_UNPRIVILEGED_POD"`) {
		return "", fmt.Errorf("the patched Deployment lost or lacks an env entry:\n%s", out)
	}
	return strings.ToLower(d.Kind) + "/" + d.Name + " patched (server dry run)", nil
}

// edited is a shipped document with the first occurrence of from replaced.
func edited(t *testing.T, file string, index int, from, to string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), file))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := controlplane.SplitDocuments(file, data)
	if err != nil {
		t.Fatal(err)
	}
	if index > len(docs) {
		t.Fatalf("%s has %d documents", file, len(docs))
	}
	raw := string(docs[index-1].Raw)
	if !strings.Contains(raw, from) {
		t.Fatalf("%s#%d has no %q", file, index, from)
	}
	return []byte(strings.Replace(raw, from, to, 1))
}

// refused asserts that the API server refuses doc with a message containing each of wants.
func refused(t *testing.T, what string, doc []byte, wants ...string) {
	t.Helper()
	shipped(t)
	out, err := dryRun(doc)
	if err == nil {
		t.Fatalf("%s was accepted: %s", what, out)
	}
	message := err.Error()
	for _, want := range wants {
		if !strings.Contains(message, want) {
			t.Errorf("%s: the refusal does not contain %q:\n%s", what, want, message)
		}
	}
	fmt.Printf("refused: %s\n  %s\n", what, strings.ReplaceAll(message[strings.Index(message, "\n")+1:], "\n", "\n  "))
}

func TestAnUnquotedAllZeroSha256IsAnIntegerAndRefused(t *testing.T) {
	zeros := strings.Repeat("0", 64)
	file := "envoyfilter/overlays/envoy-gateway/extension-policy-http.yaml"
	data, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), file))
	if err != nil {
		t.Fatal(err)
	}
	line := ""
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "sha256:") && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("%s has no sha256 field", file)
	}
	unquoted := line[:strings.Index(line, "sha256:")] + "sha256: " + zeros
	doc := edited(t, file, 1, line, unquoted)
	refused(t, "an EnvoyExtensionPolicy whose sha256 is 64 unquoted zeros", doc,
		"sha256", `must be of type string: "integer"`)
}

func TestAWasmPluginWithAnUnknownSpecFieldIsRefused(t *testing.T) {
	doc := edited(t, "envoyfilter/base/wasmplugin.yaml", 1, "  pluginName: predictor_router", "  pluginNmae: predictor_router")
	refused(t, "a WasmPlugin with spec.pluginNmae (strict field validation)", doc,
		`unknown field "spec.pluginNmae"`)
}

func TestAnHTTPRouteBreakingACELRuleIsRefused(t *testing.T) {
	file := "envoyfilter/overlays/gateway-api/httproute.yaml"
	data, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), file))
	if err != nil {
		t.Fatal(err)
	}
	// The HTTPRoute CRD's CEL rule: a PathPrefix value must be an absolute path.
	prefix := ""
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "value: /seldon/") {
			prefix = l
			break
		}
	}
	if prefix == "" {
		t.Fatalf("%s has no path match", file)
	}
	doc := edited(t, file, 1, prefix, strings.Replace(prefix, "value: /seldon/", "value: seldon/", 1))
	refused(t, "an HTTPRoute whose PathPrefix does not start with /", doc,
		"value must be an absolute path and start with '/'")
}

func TestASeldonDeploymentWithoutPredictorsIsRefused(t *testing.T) {
	file := "envoyfilter/models/seldon-deployment.yaml"
	data, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), file))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := controlplane.SplitDocuments(file, data)
	if err != nil || len(docs) == 0 {
		t.Fatal(file, err)
	}
	raw := string(docs[0].Raw)
	at := strings.Index(raw, "\n  predictors:")
	if at < 0 {
		t.Fatalf("%s has no spec.predictors", file)
	}
	// Cut spec.predictors and everything after it (it is the last field of the spec).
	doc := raw[:at+1]
	refused(t, "a SeldonDeployment without spec.predictors", []byte(doc), "spec.predictors", "Required value")
}

// The API server's view of the WasmPlugin (after defaulting and pruning) passes the filter's own
// configuration parser: what istiod receives is what the filter accepts.
func TestTheStoredWasmPluginConfigurationPassesTheFiltersValidation(t *testing.T) {
	shipped(t)
	cli := filepath.Join(controlplane.RepoRoot(), "target", "release", "predictor-router")
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("the CLI is not built (%v): run `make cli`", err)
	}
	for _, file := range []string{"envoyfilter/base", "envoyfilter/overlays/adaptive"} {
		rendering, err := cluster.Kubectl("", "kustomize", filepath.Join(controlplane.RepoRoot(), file))
		if err != nil {
			t.Fatal(err)
		}
		d, err := controlplane.DocumentOfKind(rendering, "WasmPlugin")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cluster.Kubectl(string(d.Raw), "apply", "-f", "-"); err != nil {
			t.Fatal(err)
		}
		stored, err := cluster.Kubectl("", "get", "wasmplugin", "-n", d.Namespace, d.Name, "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var object struct {
			Spec map[string]json.RawMessage `json:"spec"`
		}
		if err := json.Unmarshal([]byte(stored), &object); err != nil {
			t.Fatal(err)
		}
		if len(object.Spec["pluginConfig"]) == 0 {
			t.Fatalf("the stored WasmPlugin has no pluginConfig:\n%s", stored)
		}
		path := filepath.Join(t.TempDir(), "stored-wasmplugin.json")
		if err := os.WriteFile(path, []byte(stored), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(cli, "validate", path).CombinedOutput()
		if err != nil {
			t.Fatalf("%s as stored by the API server: predictor-router validate failed: %v\n%s", file, err, out)
		}
		if !strings.Contains(string(out), "valid (1 configuration(s))") {
			t.Fatalf("unexpected validate output: %s", out)
		}
		fmt.Printf("the WasmPlugin of %s as the API server stores it: %s", file, strings.TrimPrefix(string(out), path+": "))
		if _, err := cluster.Kubectl("", "delete", "wasmplugin", "-n", d.Namespace, d.Name); err != nil {
			t.Fatal(err)
		}
	}
}

// Every kustomization renders with kubectl's kustomize and every rendering is accepted by the API
// server; an overlay's WasmPlugin carries exactly the pluginConfig of its patch (kustomize merges
// maps: a list merged by name instead of replaced would change the experiment).
func TestEveryKustomizationRendersAndIsAccepted(t *testing.T) {
	shipped(t)
	dirs, err := controlplane.Kustomizations()
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 10 {
		t.Fatalf("only %d kustomizations: %v", len(dirs), dirs)
	}
	for _, dir := range dirs {
		rendering, err := cluster.Kubectl("", "kustomize", filepath.Join(controlplane.RepoRoot(), dir))
		if err != nil {
			t.Errorf("%s does not render: %v", dir, err)
			continue
		}
		out, err := dryRun([]byte(rendering))
		if err != nil {
			t.Errorf("the rendering of %s is refused:\n%v", dir, err)
			continue
		}
		objects := strings.Count(out, "(server dry run)")
		if objects == 0 {
			t.Errorf("%s: nothing applied: %s", dir, out)
		}
		if patch := filepath.Join(dir, "wasmplugin.yaml"); isPatch(t, patch) {
			rendered, err := controlplane.DocumentOfKind(rendering, "WasmPlugin")
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), patch))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := pluginConfig(t, rendered.Raw), pluginConfig(t, data); got != want {
				t.Errorf("%s: the rendered pluginConfig is not its patch's:\n%s\nwant\n%s", dir, got, want)
			}
		}
		fmt.Printf("rendered and accepted: kubectl apply -k %s (%d objects)\n", dir, objects)
	}
}

func isPatch(t *testing.T, file string) bool {
	t.Helper()
	patches, err := controlplane.KustomizePatches()
	if err != nil {
		t.Fatal(err)
	}
	return patches[file]
}

// pluginConfig is spec.pluginConfig of a WasmPlugin document, as canonical JSON.
func pluginConfig(t *testing.T, doc []byte) string {
	t.Helper()
	var plugin struct {
		Spec struct {
			PluginConfig any `json:"pluginConfig"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(doc, &plugin); err != nil || plugin.Spec.PluginConfig == nil {
		t.Fatalf("no spec.pluginConfig (%v):\n%s", err, doc)
	}
	canonical, _ := json.Marshal(plugin.Spec.PluginConfig)
	return string(canonical)
}

// A user's kustomization on top of the shipped ones: `images:` sets the module's registry and
// digest, and a patch sets the rollout's start; the rollout overlay as shipped is refused by the
// filter's own validation until then.
func TestAUsersKustomizationSetsTheImageAndTheRolloutStart(t *testing.T) {
	shipped(t)
	cli := filepath.Join(controlplane.RepoRoot(), "target", "release", "predictor-router")
	const digest = "sha256:1dbc4cfe6550453f0cd88ffdf01ebb01d94ad80a0b252ae27d6b33f977727e46"
	rendering, err := cluster.UserKustomization(t.TempDir(), "envoyfilter/overlays/rollout", `images:
  - name: oci://registry.example.com/ml-platform/predictor-router
    newName: oci://registry.mycorp.example/ml/predictor-router
    digest: `+digest+`
patches:
  - target: {kind: WasmPlugin, name: predictor-router}
    patch: |-
      - op: replace
        path: /spec/pluginConfig/experiments/0/rollout/start
        value: "2027-01-15T09:00:00Z"
`)
	if err != nil {
		t.Fatal(err)
	}
	plugin, err := controlplane.DocumentOfKind(rendering, "WasmPlugin")
	if err != nil {
		t.Fatal(err)
	}
	if want := "url: oci://registry.mycorp.example/ml/predictor-router@" + digest; !strings.Contains(string(plugin.Raw), want) {
		t.Errorf("images: did not set the module's URL (%s):\n%s", want, plugin.Raw)
	}
	if _, err := dryRun([]byte(rendering)); err != nil {
		t.Fatal(err)
	}
	validate := func(doc []byte) (string, error) {
		path := filepath.Join(t.TempDir(), "wasmplugin.yaml")
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(cli, "validate", path).CombinedOutput()
		return string(out), err
	}
	if out, err := validate(plugin.Raw); err != nil {
		t.Errorf("the user's rollout does not validate: %v\n%s", err, out)
	}
	asShipped, err := cluster.Kubectl("", "kustomize", filepath.Join(controlplane.RepoRoot(), "envoyfilter/overlays/rollout"))
	if err != nil {
		t.Fatal(err)
	}
	shippedPlugin, err := controlplane.DocumentOfKind(asShipped, "WasmPlugin")
	if err != nil {
		t.Fatal(err)
	}
	out, err := validate(shippedPlugin.Raw)
	if err == nil || !strings.Contains(out, "experiments[0].rollout.start") {
		t.Errorf("the shipped rollout overlay's placeholder start was not refused: %v\n%s", err, out)
	}
	fmt.Printf("a user's kustomization: url %s; the shipped rollout overlay before its start is set: %s",
		"oci://registry.mycorp.example/ml/predictor-router@"+digest, out[strings.Index(out, ": ")+2:])
}
