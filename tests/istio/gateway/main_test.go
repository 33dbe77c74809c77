// Package gateway runs the seed's scenario under real Istio: the shipped manifests applied to a real
// API server, Istio's own istiod translating them, Istio's agent pulling the module from a registry
// and running the PyPI Envoy as the ingress gateway, loopback predictors behind it.
package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"predictor-router/tests/istio/controlplane"
)

// world is everything TestMain starts, shared by the tests of this package (they run one at a time).
var world struct {
	dir       string
	cluster   *controlplane.Cluster
	istiod    *controlplane.Istiod
	registry  *controlplane.Process
	image     string // 127.0.0.1:<port>/predictor-router:test
	digest    string
	xgb, rf   *predictor
	gateway   *controlplane.Gateway
	gwPort    int    // the gateway Service's targetPort: where the listener binds
	signKey   string // PREDICTOR_ROUTER_KEYS of the gateway's environment
	envoyPath string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "predictor-router-istio-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	world.dir = dir
	code := func() int {
		defer stopWorld()
		if err := startWorld(); err != nil {
			fmt.Fprintln(os.Stderr, "setting up Istio:", err)
			return 1
		}
		return m.Run()
	}()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "logs of the control plane and the gateway kept in %s\n", dir)
	}
	os.Exit(code)
}

func stopWorld() {
	world.gateway.Stop()
	world.istiod.Stop()
	world.registry.Stop()
	world.cluster.Stop()
	for _, p := range []*predictor{world.xgb, world.rf} {
		if p != nil {
			p.stop()
		}
	}
}

func startWorld() error {
	var err error
	world.envoyPath = os.Getenv("ENVOY_BIN")
	if world.envoyPath == "" {
		world.envoyPath = filepath.Join(controlplane.RepoRoot(), ".venv", "bin", "envoy")
	}
	if _, err := os.Stat(world.envoyPath); err != nil {
		return fmt.Errorf("no Envoy at %s (make envoy): %v", world.envoyPath, err)
	}
	started := time.Now()
	if world.cluster, err = controlplane.StartCluster(world.dir); err != nil {
		return err
	}
	crds, err := controlplane.CRDFiles()
	if err != nil {
		return err
	}
	if err := world.cluster.ApplyCRDs(crds); err != nil {
		return err
	}
	if world.istiod, err = controlplane.StartIstiod(world.cluster, world.dir); err != nil {
		return err
	}
	fmt.Printf("API server and istiod (%s@%s) ready in %s\n", controlplane.IstioModule, controlplane.IstioVersion, time.Since(started).Round(time.Millisecond))
	if err := startRegistryAndPush(); err != nil {
		return err
	}
	if err := startPredictors(); err != nil {
		return err
	}
	if err := applySeedScenario(); err != nil {
		return err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	world.signKey = base64.RawURLEncoding.EncodeToString(key)
	world.gateway, err = controlplane.StartGateway(world.istiod, world.envoyPath, world.dir, controlplane.GatewayOptions{
		Name: "istio-ingressgateway", Namespace: "istio-system",
		Labels: map[string]string{"istio": "ingressgateway", "app": "istio-ingressgateway"},
		// What the signed-overrides variant's Deployment patch puts in the istio-proxy container.
		Env: []string{"PREDICTOR_ROUTER_KEYS=" + world.signKey},
	})
	if err != nil {
		return err
	}
	fmt.Printf("gateway (pilot-agent + %s) ready %s after the start\n", world.envoyPath, time.Since(started).Round(time.Millisecond))
	return nil
}

// startRegistryAndPush runs Debian's docker-registry on loopback and pushes the module's image
// with `make image` (the module is already built: `-o build`).
func startRegistryAndPush() error {
	port, err := controlplane.FreePort()
	if err != nil {
		return err
	}
	regDir := filepath.Join(world.dir, "registry")
	if err := os.MkdirAll(regDir, 0o755); err != nil {
		return err
	}
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%d\n", filepath.Join(regDir, "data"), port)
	if err := os.WriteFile(filepath.Join(regDir, "config.yml"), []byte(config), 0o644); err != nil {
		return err
	}
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		return fmt.Errorf("docker-registry (Debian package; `make oci-tools` installs it): %v", err)
	}
	if world.registry, err = controlplane.Start("registry", regDir, bin, []string{"serve", filepath.Join(regDir, "config.yml")}, nil); err != nil {
		return err
	}
	world.image = fmt.Sprintf("127.0.0.1:%d/predictor-router:test", port)
	cmd := exec.Command("make", "-s", "-o", "build", "image", "IMAGE="+world.image, "PUSH=1", "TLS_VERIFY=false",
		"BUILDAH_ROOT="+filepath.Join(regDir, "buildah"))
	cmd.Dir = controlplane.RepoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("make image: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`pushed \S+@(sha256:[0-9a-f]{64})`).FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("make image printed no digest:\n%s", out)
	}
	world.digest = string(m[1])
	fmt.Printf("pushed %s@%s with make image\n", world.image, world.digest)
	return nil
}

func startPredictors() error {
	var err error
	if world.xgb, err = startPredictor("xgb", "127.0.0.2"); err != nil {
		return err
	}
	if world.rf, err = startPredictor("rf", "127.0.0.3"); err != nil {
		return err
	}
	if world.gwPort, err = controlplane.FreePort(); err != nil {
		return err
	}
	return nil
}

// The shipped files are applied unchanged: like a user, the test writes a kustomization of its own
// over a shipped folder that sets the module's image with `images:` (the test registry's, pinned by
// digest), and changes the configuration with JSON patches where a test needs another one.

// jsonPatch is one `replace` operation of a kustomize JSON 6902 patch of the WasmPlugin.
type jsonPatch struct {
	Path  string
	Value any
}

// render is `kubectl kustomize` of such a kustomization over the shipped folder.
func render(shipped string, patches ...jsonPatch) (string, error) {
	dir, err := os.MkdirTemp(world.dir, "kustomization-")
	if err != nil {
		return "", err
	}
	more := fmt.Sprintf("images:\n  - name: oci://registry.example.com/ml-platform/predictor-router\n    newName: oci://%s\n    digest: %s\n",
		strings.TrimSuffix(world.image, ":test"), world.digest)
	if len(patches) > 0 {
		more += "patches:\n  - target: {kind: WasmPlugin, name: predictor-router}\n    patch: |-\n"
		for _, p := range patches {
			value, err := json.Marshal(p.Value)
			if err != nil {
				return "", err
			}
			more += fmt.Sprintf("      - op: replace\n        path: %s\n        value: %s\n", p.Path, value)
		}
	}
	return world.cluster.UserKustomization(dir, shipped, more)
}

// pluginOf is the WasmPlugin document of such a rendering.
func pluginOf(t *testing.T, shipped string, patches ...jsonPatch) string {
	t.Helper()
	rendering, err := render(shipped, patches...)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := controlplane.DocumentOfKind(rendering, "WasmPlugin")
	if err != nil {
		t.Fatal(err)
	}
	return string(doc.Raw)
}

// applySeedScenario applies what a cluster with Seldon Core and Istio has for the seed's scenario:
// the predictors' Services (Seldon makes them) with their loopback workloads, the gateway's Service
// and Pod (the istio/gateway chart and the kubelet), then envoyfilter/base as a user applies it.
func applySeedScenario() error {
	c := world.cluster
	if err := c.EnsureNamespaces([]string{"istio-system", "default"}); err != nil {
		return err
	}
	objects := world.xgb.objects("default", "fraud-detection-xgb", map[string]string{"version": "xgb", "app": "fraud-detection-xgb"}) +
		"---\n" + world.rf.objects("default", "fraud-detection-rf", map[string]string{"version": "rf", "app": "fraud-detection-rf"}) +
		"---\n" + gatewayObjects(world.gwPort)
	if _, err := c.Kubectl(objects, "apply", "-f", "-"); err != nil {
		return err
	}
	if err := runningPod("istio-system", "istio-ingressgateway-0", "127.0.0.1"); err != nil {
		return err
	}
	// `kubectl apply -k` of the user's kustomization over envoyfilter/base.
	seed, err := render("envoyfilter/base")
	if err != nil {
		return err
	}
	_, err = c.Kubectl(seed, "apply", "-f", "-")
	return err
}

// gatewayObjects are what the istio/gateway Helm chart and the kubelet give the ingress gateway: a
// Service mapping port 80 to the pod's port, and the pod (this process's agent, IP 127.0.0.1), by
// which istiod finds the gateway's Service and binds the Gateway's port 80 as the Service's
// targetPort.
func gatewayObjects(port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system, labels: {istio: ingressgateway}}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: %[1]d}]
---
apiVersion: v1
kind: Pod
metadata: {name: istio-ingressgateway-0, namespace: istio-system, labels: {istio: ingressgateway, app: istio-ingressgateway}}
spec:
  containers: [{name: istio-proxy, image: loopback/pilot-agent}]
`, port)
}

// runningPod sets a pod's status as the kubelet would once its containers run: Running, Ready, IP.
func runningPod(namespace, name, ip string) error {
	status := fmt.Sprintf(`{"status":{"phase":"Running","podIP":%q,"podIPs":[{"ip":%q}],"hostIP":"127.0.0.1",`+
		`"conditions":[{"type":"Ready","status":"True"},{"type":"ContainersReady","status":"True"}]}}`, ip, ip)
	_, err := world.cluster.Kubectl("", "patch", "pod", "-n", namespace, name, "--subresource=status", "--type=merge", "-p", status)
	return err
}

// gatewayURL is the gateway's listener for a path.
func gatewayURL(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(world.gwPort) + path
}
