package gateway

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"predictor-router/tests/istio/controlplane"
)

// The Gateway API variant under Istio's own Gateway API controller: gatewayClassName istio, the
// HTTPRoute, and the WasmPlugin attached by targetRefs, serving the same scenario. istiod's
// deployment controller is off (no kubelet would start what it creates), so the test provides what
// it would have made: the Service <gateway>-istio and a pod labelled with the gateway's name, whose
// proxy is a second agent.
func TestTheGatewayAPIVariantServesTheSameScenario(t *testing.T) {
	c := world.cluster
	root := controlplane.RepoRoot()
	dir := "envoyfilter/overlays/gateway-api/"
	// kubectl apply -k of the user's kustomization over the overlay.
	rendering, err := render(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kubectl(rendering, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	port, err := controlplane.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	const name = "fraud-detection-gateway"
	objects := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s-istio, namespace: default, labels: {gateway.networking.k8s.io/gateway-name: %[1]s}}
spec:
  selector: {gateway.networking.k8s.io/gateway-name: %[1]s}
  ports: [{name: http, port: 80, targetPort: %[2]d}]
---
apiVersion: v1
kind: Pod
metadata: {name: %[1]s-istio-0, namespace: default, labels: {gateway.networking.k8s.io/gateway-name: %[1]s}}
spec:
  containers: [{name: istio-proxy, image: loopback/pilot-agent}]
`, name, port)
	if _, err := c.Kubectl(objects, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, kind := range []string{"wasmplugin/predictor-router", "httproute/fraud-detection", "gateway.gateway.networking.k8s.io/" + name,
			"service/" + name + "-istio", "pod/" + name + "-istio-0"} {
			_, _ = c.Kubectl("", "delete", "-n", "default", kind, "--wait=false")
		}
	}()
	if err := runningPod("default", name+"-istio-0", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	// In the world's short folder: the agent's unix socket paths must stay under 108 bytes.
	gw, err := controlplane.StartGateway(world.istiod, world.envoyPath, world.dir, controlplane.GatewayOptions{
		Name: name + "-istio", Namespace: "default",
		Labels: map[string]string{"gateway.networking.k8s.io/gateway-name": name},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Stop()

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ids := users("gateway-api", 500)
	expected, err := offline(filepath.Join(root, dir, "wasmplugin.yaml"), ids)
	if err != nil {
		t.Fatal(err)
	}
	sendTo := func(id string, headers map[string]string) (answer, error) {
		req, _ := http.NewRequest(http.MethodPost, base+predictPath, strings.NewReader(`{"data":{"ndarray":[[1,2,3,4]]}}`))
		req.Host = "models.example.com"
		req.Header.Set("x-user-id", id)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return answer{}, err
		}
		resp.Body.Close()
		return answer{Status: resp.StatusCode, Predictor: resp.Header.Get("x-predictor"), ServedBy: resp.Header.Get("x-served-by")}, nil
	}
	started := time.Now()
	for {
		a, err := sendTo("probe", nil)
		if err == nil && routedByTheFilter(a) == nil {
			break
		}
		if time.Since(started) > 90*time.Second {
			status, _ := c.Kubectl("", "get", "gateway.gateway.networking.k8s.io", "-n", "default", name, "-o", "jsonpath={.status}")
			t.Fatalf("the Gateway API gateway never routed by the filter: %+v %v\nGateway status: %s\n%s", a, err, status, gw.LogTail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	counts := map[string]int{}
	for _, id := range ids {
		a, err := sendTo(id, map[string]string{"x-predictor": "rf"})
		if err != nil {
			t.Fatal(err)
		}
		if a.Predictor != expected[id] || a.ServedBy != expected[id] {
			t.Fatalf("user %s: predictor %q served by %q, offline %q", id, a.Predictor, a.ServedBy, expected[id])
		}
		counts[a.Predictor]++
	}
	forced, err := sendTo(ids[0], map[string]string{"x-predictor-override": "rf"})
	if err != nil || forced.ServedBy != "rf" {
		t.Fatalf("override to rf: %+v %v", forced, err)
	}
	status, _ := c.Kubectl("", "get", "gateway.gateway.networking.k8s.io", "-n", "default", name,
		"-o", `jsonpath={range .status.conditions[*]}{.type}={.status} {end}`)
	fmt.Printf("Gateway API variant under Istio's controller (Gateway status: %s): routed %s after the agent started; "+
		"500 hashed users xgb %d / rf %d, each equal to the offline formula; client-sent x-predictor ignored; override reaches rf\n",
		strings.TrimSpace(status), time.Since(started).Round(time.Millisecond), counts["xgb"], counts["rf"])
}
