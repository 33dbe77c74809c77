package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"predictor-router/tests/istio/controlplane"
)

// configDump is Envoy's /config_dump.
func configDump(t *testing.T) map[string]any {
	t.Helper()
	resp, err := http.Get(world.gateway.AdminURL + "/config_dump")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var dump map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&dump); err != nil {
		t.Fatal(err)
	}
	return dump
}

// section is the config dump's entry of one @type (suffix after "envoy.admin.v3.").
func section(dump map[string]any, kind string) map[string]any {
	configs, _ := dump["configs"].([]any)
	for _, c := range configs {
		m, _ := c.(map[string]any)
		if m["@type"] == "type.googleapis.com/envoy.admin.v3."+kind {
			return m
		}
	}
	return nil
}

// wasmFilter is the ECDS filter istiod generated for the WasmPlugin, as Envoy holds it.
type wasmFilter struct {
	Name          string
	RootID        string
	LocalFile     string
	Configuration string
	FailOpen      bool
}

func ecdsWasmFilters(dump map[string]any) []wasmFilter {
	ecds := section(dump, "EcdsConfigDump")
	if ecds == nil {
		return nil
	}
	out := []wasmFilter{}
	filters, _ := ecds["ecds_filters"].([]any)
	for _, f := range filters {
		raw, _ := json.Marshal(f)
		var entry struct {
			EcdsFilter struct {
				Name        string `json:"name"`
				TypedConfig struct {
					Type   string `json:"@type"`
					Config struct {
						RootID   string `json:"root_id"`
						VMConfig struct {
							Code struct {
								Local struct {
									Filename string `json:"filename"`
								} `json:"local"`
							} `json:"code"`
						} `json:"vm_config"`
						Configuration struct {
							Value string `json:"value"`
						} `json:"configuration"`
						FailOpen bool `json:"fail_open"`
					} `json:"config"`
				} `json:"typed_config"`
			} `json:"ecds_filter"`
		}
		if json.Unmarshal(raw, &entry) != nil || !strings.HasSuffix(entry.EcdsFilter.TypedConfig.Type, "filters.http.wasm.v3.Wasm") {
			continue
		}
		c := entry.EcdsFilter.TypedConfig.Config
		out = append(out, wasmFilter{entry.EcdsFilter.Name, c.RootID, c.VMConfig.Code.Local.Filename, c.Configuration.Value, c.FailOpen})
	}
	return out
}

// waitForRouting waits until hashed requests are routed by a configuration for which want
// returns nil, and returns how long it took.
func waitForRouting(t *testing.T, timeout time.Duration, want func(answer) error) time.Duration {
	t.Helper()
	start := time.Now()
	var last error
	for time.Since(start) < timeout {
		a, err := send(predictPath, map[string]string{"x-user-id": "probe"})
		if err == nil {
			if last = want(a); last == nil {
				return time.Since(start)
			}
		} else {
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not routed as expected within %s: %v\n%s", timeout, last, world.gateway.LogTail(30))
	return 0
}

func routedByTheFilter(a answer) error {
	if a.Status != 200 || a.Predictor == "" || a.Predictor != a.ServedBy {
		return fmt.Errorf("status %d, x-predictor %q, served by %q", a.Status, a.Predictor, a.ServedBy)
	}
	return nil
}

func TestEnvoyRunsTheFilterAndRoutesIstiodGenerated(t *testing.T) {
	took := waitForRouting(t, 90*time.Second, routedByTheFilter)
	t.Logf("first request routed by the filter %s after the test started", took.Round(time.Millisecond))
	dump := configDump(t)

	filters := ecdsWasmFilters(dump)
	if len(filters) != 1 {
		t.Fatalf("want one Wasm filter from ECDS, got %+v", filters)
	}
	f := filters[0]
	// istiod names it after the WasmPlugin (namespace.name), translated into a TrafficExtension.
	if !strings.Contains(f.Name, "/istio-system.predictor-router") || f.RootID != "predictor_router" {
		t.Errorf("the ECDS filter is %q with root id %q", f.Name, f.RootID)
	}
	// The agent fetched the image and handed Envoy a local file: the module itself.
	module, err := os.ReadFile(f.LocalFile)
	if err != nil {
		t.Fatalf("the module file Envoy loads (%s): %v", f.LocalFile, err)
	}
	built, err := os.ReadFile(filepath.Join(controlplane.RepoRoot(), "dist", "predictor_router.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if string(module) != string(built) {
		t.Errorf("the agent's file %s (%d bytes) is not dist/predictor_router.wasm (%d bytes)", f.LocalFile, len(module), len(built))
	}
	// The pluginConfig as istiod serialised it (a protobuf Struct turned into JSON).
	var config map[string]any
	if err := json.Unmarshal([]byte(f.Configuration), &config); err != nil {
		t.Fatalf("the filter's configuration is not JSON: %v\n%s", err, f.Configuration)
	}
	experiments, _ := config["experiments"].([]any)
	if len(experiments) != 1 {
		t.Fatalf("configuration: %s", f.Configuration)
	}
	t.Logf("ECDS filter %s, module %s (%d bytes, = dist/predictor_router.wasm), configuration as istiod serialised it:\n%s",
		f.Name, f.LocalFile, len(module), f.Configuration)

	// The routes istiod generated from the VirtualService: one per predictor on x-predictor.
	routes, _ := json.Marshal(section(dump, "RoutesConfigDump"))
	for _, p := range []string{"xgb", "rf"} {
		match := fmt.Sprintf(`"name":"x-predictor","string_match":{"exact":"%s"}`, p)
		if !strings.Contains(string(routes), match) {
			t.Errorf("no route on x-predictor = %s in the routes istiod generated", p)
		}
		if !strings.Contains(string(routes), "outbound|8000|"+p+"|fraud-detection-"+p+".default.svc.cluster.local") {
			t.Errorf("no route to the %s subset's cluster", p)
		}
	}
}

func TestTheSeedScenarioThroughIstio(t *testing.T) {
	waitForRouting(t, 90*time.Second, routedByTheFilter)
	config := filepath.Join(controlplane.RepoRoot(), "envoyfilter", "base", "wasmplugin.yaml")
	ids := users("istio-user", 2000)
	expected, err := offline(config, ids)
	if err != nil {
		t.Fatal(err)
	}
	xgbBefore, rfBefore := world.xgb.served.Load(), world.rf.served.Load()
	xgbFrom, rfFrom := world.xgb.received(), world.rf.received()
	counts := map[string]int{}
	for _, id := range ids {
		a, err := send(predictPath, map[string]string{"x-user-id": id, "x-predictor": "rf"})
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != 200 || a.Predictor != expected[id] {
			t.Fatalf("user %s: status %d, predictor %q, offline %q", id, a.Status, a.Predictor, expected[id])
		}
		if a.ServedBy != a.Predictor {
			t.Fatalf("user %s: routed to %s, served by %s", id, a.Predictor, a.ServedBy)
		}
		counts[a.Predictor]++
	}
	// The client-sent x-predictor: rf above never moved a user: each equals the offline formula.
	xgbShare := float64(counts["xgb"]) / float64(len(ids))
	bound := 4 * math.Sqrt(0.25/float64(len(ids)))
	if math.Abs(xgbShare-0.5) > bound {
		t.Errorf("xgb share %.3f, outside 0.5 ± %.3f", xgbShare, bound)
	}
	if got := world.xgb.served.Load() - xgbBefore + world.rf.served.Load() - rfBefore; got != int64(len(ids)) {
		t.Errorf("the upstreams received %d requests for %d sent", got, len(ids))
	}
	t.Logf("2000 hashed users through Istio's gateway: xgb %d, rf %d (each equal to `predictor-router assign`), client-sent x-predictor ignored",
		counts["xgb"], counts["rf"])

	// Each upstream received only requests whose routing header names it (the VirtualService's match).
	for p, from := range map[*predictor]int{world.xgb: xgbFrom, world.rf: rfFrom} {
		for _, h := range p.receivedHeaders(from) {
			if h != p.Name {
				t.Fatalf("%s received a request with x-predictor %q", p.Name, h)
			}
		}
	}

	// A random user gets a cookie; the cookie keeps them on their predictor.
	first, err := send(predictPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	cookie := strings.SplitN(first.SetCookie, ";", 2)[0]
	if !strings.HasPrefix(cookie, "pr-fraud-detection="+first.Predictor) {
		t.Fatalf("Set-Cookie %q for a random user routed to %q", first.SetCookie, first.Predictor)
	}
	for i := 0; i < 50; i++ {
		a, err := send(predictPath, map[string]string{"cookie": cookie})
		if err != nil {
			t.Fatal(err)
		}
		if a.Predictor != first.Predictor || a.ServedBy != first.Predictor || a.SetCookie != "" {
			t.Fatalf("with %s: predictor %q, served by %q, Set-Cookie %q", cookie, a.Predictor, a.ServedBy, a.SetCookie)
		}
	}

	// A forced override reaches rf, whatever the user's own assignment.
	var xgbUser string
	for _, id := range ids {
		if expected[id] == "xgb" {
			xgbUser = id
			break
		}
	}
	forced, err := send(predictPath, map[string]string{"x-user-id": xgbUser, "x-predictor-override": "rf"})
	if err != nil {
		t.Fatal(err)
	}
	if forced.Predictor != "rf" || forced.ServedBy != "rf" {
		t.Fatalf("override to rf for an xgb user: predictor %q, served by %q", forced.Predictor, forced.ServedBy)
	}
	viaQuery, err := send(predictPath+"?predictor=rf", map[string]string{"x-user-id": xgbUser})
	if err != nil {
		t.Fatal(err)
	}
	if viaQuery.ServedBy != "rf" {
		t.Fatalf("query override to rf: served by %q", viaQuery.ServedBy)
	}
}

// stats reads Envoy's counters whose names contain substr.
func stats(t *testing.T, substr string) map[string]int64 {
	t.Helper()
	resp, err := http.Get(world.gateway.AdminURL + "/stats?filter=" + substr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]int64{}
	for _, line := range strings.Split(string(body), "\n") {
		var name string
		var value int64
		if parts := strings.SplitN(line, ": ", 2); len(parts) == 2 {
			name = parts[0]
			if _, err := fmt.Sscan(parts[1], &value); err == nil {
				out[name] = value
			}
		}
	}
	return out
}
