package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"predictor-router/tests/istio/controlplane"
)

// An invalid pluginConfig passes the API server (it is a free-form Struct) and istiod; Envoy's
// filter refuses it (on_configure returns false), so the update is rejected and the last good
// configuration keeps serving.
func TestAnInvalidPluginConfigLeavesTheLastGoodConfigurationServing(t *testing.T) {
	restoreSeed(t)
	invalid := pluginOf(t, "envoyfilter/base", jsonPatch{"/spec/pluginConfig/experiments/0/predictors/1/weight", -1})
	logBefore := len(world.gateway.Log())
	applied := applyPlugin(t, invalid)
	stored, err := world.cluster.Kubectl("", "get", "wasmplugin", "-n", "istio-system", "predictor-router", "-o", "jsonpath={.spec.pluginConfig.experiments[0].predictors[1].weight}")
	if err != nil || stored != "-1" {
		t.Fatalf("the API server did not store the invalid weight: %q %v", stored, err)
	}
	const reason = "experiments[0].predictors[1].weight: must be an integer from 0 to 1000000"
	var logged time.Duration
	for {
		if strings.Contains(world.gateway.Log()[logBefore:], reason) {
			logged = time.Since(applied)
			break
		}
		if time.Since(applied) > 60*time.Second {
			t.Fatalf("the gateway's log never named the invalid field:\n%s", world.gateway.LogTail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// What Envoy's config dump shows for the rejected update, and what the requests get.
	for _, f := range ecdsWasmFilters(configDump(t)) {
		fmt.Printf("after the rejected update, Envoy's ECDS dump holds: %s\n", f.Configuration)
	}
	ecds, _ := json.Marshal(section(configDump(t), "EcdsConfigDump"))
	if i := strings.Index(string(ecds), `"error_state"`); i >= 0 {
		fmt.Printf("  with error_state: %.300s\n", string(ecds)[i:])
	}
	ok := 0
	for _, id := range users("after-invalid", 100) {
		a, err := send(predictPath, map[string]string{"x-user-id": id})
		if err != nil {
			t.Fatal(err)
		}
		if routedByTheFilter(a) == nil {
			ok++
		}
	}
	if ok != 100 {
		t.Errorf("%d of 100 requests routed by the filter after the invalid update", ok)
	}
	line := ""
	for _, l := range strings.Split(world.gateway.Log()[logBefore:], "\n") {
		if strings.Contains(l, reason) || strings.Contains(strings.ToLower(l), "rejected") {
			line += "\n    " + strings.TrimSpace(l)
		}
	}
	fmt.Printf("invalid pluginConfig (weight -1): stored by the API server, pushed by istiod; the gateway logged the reason %s after the apply "+
		"and kept serving the last good configuration (100 of 100 routed). Lines of the agent and Envoy:%s\n", logged.Round(time.Millisecond), line)
	restoreSeed(t)
}

// A module URL that cannot be fetched: the agent cannot hand Envoy a module, and substitutes a
// filter by the WasmPlugin's failStrategy.
func TestAnUnfetchableModuleUnderFailCloseAndFailOpen(t *testing.T) {
	defer restoreSeed(t)
	closedPort, err := controlplane.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		strategy string
		want     func(answer) error
		what     string
	}{
		{"FAIL_CLOSE", func(a answer) error {
			if a.Status != 403 {
				return fmt.Errorf("status %d", a.Status)
			}
			return nil
		}, "every request refused"},
		{"FAIL_RELOAD", func(a answer) error {
			if a.Status != 403 {
				return fmt.Errorf("status %d", a.Status)
			}
			return nil
		}, "every request refused (the agent treats FAIL_RELOAD as fail-closed when it has no module)"},
		{"FAIL_OPEN", func(a answer) error {
			if a.Status != 200 || a.Predictor != "" || a.ServedBy != "xgb" {
				return fmt.Errorf("status %d, x-predictor %q, served by %q", a.Status, a.Predictor, a.ServedBy)
			}
			return nil
		}, "requests pass without the filter, to the VirtualService's default route (xgb)"},
	} {
		restoreSeed(t)
		text := pluginOf(t, "envoyfilter/base",
			jsonPatch{"/spec/url", fmt.Sprintf("oci://127.0.0.1:%d/nothing-here:1", closedPort)},
			jsonPatch{"/spec/failStrategy", c.strategy})
		applied := applyPlugin(t, text)
		var took time.Duration
		var last error
		for {
			a, err := send(predictPath, map[string]string{"x-user-id": "unfetchable"})
			if err == nil {
				if last = c.want(a); last == nil {
					took = time.Since(applied)
					break
				}
			} else {
				last = err
			}
			if time.Since(applied) > 120*time.Second {
				t.Fatalf("%s: not %s within 120 s: %v\n%s", c.strategy, c.what, last, world.gateway.LogTail(30))
			}
			time.Sleep(100 * time.Millisecond)
		}
		// It stays so: 50 requests in a row.
		for i := 0; i < 50; i++ {
			a, err := send(predictPath, map[string]string{"x-user-id": fmt.Sprintf("unfetchable-%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.want(a); err != nil {
				t.Fatalf("%s, request %d: %v", c.strategy, i, err)
			}
		}
		fmt.Printf("unfetchable module URL with %s: %s, %s after the apply\n", c.strategy, c.what, took.Round(time.Millisecond))
	}
}
