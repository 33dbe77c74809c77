package gateway

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// pluginConfigOf is the pluginConfig of a WasmPlugin manifest, as JSON values.
func pluginConfigOf(t *testing.T, manifest string) map[string]any {
	t.Helper()
	var plugin struct {
		Spec struct {
			PluginConfig map[string]any `json:"pluginConfig"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(manifest), &plugin); err != nil {
		t.Fatal(err)
	}
	return plugin.Spec.PluginConfig
}

// applyPlugin applies a WasmPlugin manifest to the API server and returns when it was applied.
func applyPlugin(t *testing.T, manifest string) time.Time {
	t.Helper()
	if _, err := world.cluster.Kubectl(manifest, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// waitForPluginConfig waits until the Wasm filter Envoy runs has exactly the pluginConfig of
// manifest (as istiod serialised it) and returns how long after since that was.
func waitForPluginConfig(t *testing.T, manifest string, since time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	want := pluginConfigOf(t, manifest)
	var last string
	for time.Since(since) < timeout {
		for _, f := range ecdsWasmFilters(configDump(t)) {
			var got map[string]any
			if json.Unmarshal([]byte(f.Configuration), &got) == nil && reflect.DeepEqual(got, want) {
				return time.Since(since)
			}
			last = f.Configuration
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("Envoy did not take the configuration within %s; it runs:\n%s\n%s", timeout, last, world.gateway.LogTail(30))
	return 0
}

// seedPlugin is the WasmPlugin of envoyfilter/base with the test's image; restoring it ends each
// test that changes the configuration.
func seedPlugin(t *testing.T) string {
	t.Helper()
	return pluginOf(t, "envoyfilter/base")
}

func restoreSeed(t *testing.T) {
	t.Helper()
	seed := seedPlugin(t)
	waitForPluginConfig(t, seed, applyPlugin(t, seed), 60*time.Second)
	waitForRouting(t, 60*time.Second, routedByTheFilter)
}

// envoyUptime is Envoy's server.uptime in seconds: it only grows while the same Envoy runs.
func envoyUptime(t *testing.T) int64 {
	t.Helper()
	return stats(t, "server.uptime")["server.uptime"]
}

func TestAWeightChangeReachesEnvoyWithoutARestart(t *testing.T) {
	restoreSeed(t)
	seed := seedPlugin(t)
	ninety := pluginOf(t, "envoyfilter/base",
		jsonPatch{"/spec/pluginConfig/experiments/0/predictors/0/weight", 90},
		jsonPatch{"/spec/pluginConfig/experiments/0/predictors/1/weight", 10})
	dir := t.TempDir()
	before, err := writeTemp(dir, "50-50.yaml", seed)
	if err != nil {
		t.Fatal(err)
	}
	after, err := writeTemp(dir, "90-10.yaml", ninety)
	if err != nil {
		t.Fatal(err)
	}
	ids := users("weights", 1000)
	old, err := offline(before, ids)
	if err != nil {
		t.Fatal(err)
	}
	now, err := offline(after, ids)
	if err != nil {
		t.Fatal(err)
	}
	// A user who moves from rf to xgb with the change tells which configuration served them.
	mover := ""
	for _, id := range ids {
		if old[id] == "rf" && now[id] == "xgb" {
			mover = id
			break
		}
	}
	if mover == "" {
		t.Fatal("no user moves from rf to xgb")
	}
	uptime := envoyUptime(t)
	pid := world.gateway.Pid()

	applied := applyPlugin(t, ninety)
	var served time.Duration
	for {
		a, err := send(predictPath, map[string]string{"x-user-id": mover})
		if err == nil && a.Predictor == "xgb" {
			served = time.Since(applied)
			break
		}
		if time.Since(applied) > 60*time.Second {
			t.Fatalf("90/10 not served within 60 s of kubectl apply: %+v %v", a, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	inEnvoy := waitForPluginConfig(t, ninety, applied, 10*time.Second)
	counts := map[string]int{}
	for _, id := range ids {
		a, err := send(predictPath, map[string]string{"x-user-id": id})
		if err != nil {
			t.Fatal(err)
		}
		if a.Predictor != now[id] || a.ServedBy != now[id] {
			t.Fatalf("after the change user %s: predictor %q served by %q, offline %q", id, a.Predictor, a.ServedBy, now[id])
		}
		counts[a.Predictor]++
	}
	if world.gateway.Pid() != pid || world.gateway.Exited() {
		t.Fatal("the agent restarted")
	}
	if got := envoyUptime(t); got < uptime {
		t.Fatalf("Envoy restarted: server.uptime %d after %d", got, uptime)
	}
	fmt.Printf("weights 50/50 → 90/10 through kubectl apply: served %s after the apply (ECDS seen in Envoy's config dump by %s); "+
		"1000 hashed users xgb %d / rf %d, each equal to `predictor-router assign`; the same Envoy (uptime %d s → %d s)\n",
		served.Round(time.Millisecond), inEnvoy.Round(time.Millisecond), counts["xgb"], counts["rf"], uptime, envoyUptime(t))
	if served > 30*time.Second {
		t.Errorf("a weight change took %s to be served (bound 30 s)", served)
	}
	restoreSeed(t)
}
