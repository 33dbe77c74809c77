package gateway

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"predictor-router/tests/istio/controlplane"
)

// adaptivePatches make the adaptive overlay learn fast: one update a second and a short burn-in (the
// block's other fields as shipped).
var adaptivePatches = []jsonPatch{
	{"/spec/pluginConfig/experiments/0/adaptive/update_seconds", 1},
	{"/spec/pluginConfig/experiments/0/adaptive/min_outcomes", 50},
}

// shareOfRF sends n new hashed users and returns the share that was routed to rf.
func shareOfRF(t *testing.T, prefix string, n int) float64 {
	t.Helper()
	rf := 0
	for i := 0; i < n; i++ {
		a, err := send(predictPath, map[string]string{"x-user-id": fmt.Sprintf("%s-%d", prefix, i)})
		if err != nil {
			t.Fatal(err)
		}
		if a.Predictor == "rf" {
			rf++
		}
	}
	return float64(rf) / float64(n)
}

// An adaptive experiment's learned totals survive a WasmPlugin update that keeps its name,
// predictors and adaptive block, and start again when the block changes, as istiod delivers them.
func TestLearnedTotalsSurviveAnUpdateThroughIstiod(t *testing.T) {
	defer func() {
		world.rf.failPct.Store(0)
		restoreSeed(t)
	}()
	learning := pluginOf(t, "envoyfilter/overlays/adaptive", adaptivePatches...)
	waitForPluginConfig(t, learning, applyPlugin(t, learning), 60*time.Second)

	// rf fails every request: the bandit learns to send new users to xgb.
	world.rf.failPct.Store(100)
	deadline := time.Now().Add(60 * time.Second)
	for round := 0; ; round++ {
		for i := 0; i < 100; i++ {
			if _, err := send(predictPath, map[string]string{"x-user-id": fmt.Sprintf("learn-%d-%d", round, i)}); err != nil {
				t.Fatal(err)
			}
		}
		if share := stats(t, "fraud-detection.rf.share_bp"); share["wasmcustom.predictor_router.fraud-detection.rf.share_bp"] == 500 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bandit did not move rf to its 5 %% floor: %v", stats(t, "share_bp"))
		}
		time.Sleep(1100 * time.Millisecond)
	}
	learned := shareOfRF(t, "learned", 200)

	// The same experiment, predictors and adaptive block; only the cookie's lifetime changes.
	keep := append(adaptivePatches, jsonPatch{"/spec/pluginConfig/experiments/0/sticky/max_age_seconds", 86400})
	kept := pluginOf(t, "envoyfilter/overlays/adaptive", keep...)
	took := waitForPluginConfig(t, kept, applyPlugin(t, kept), 60*time.Second)
	afterKeep := shareOfRF(t, "kept", 200)

	// A changed adaptive block starts from zero: burn-in, the configured 50/50.
	reset := pluginOf(t, "envoyfilter/overlays/adaptive",
		append(keep, jsonPatch{"/spec/pluginConfig/experiments/0/adaptive/min_share_percent", 4})...)
	waitForPluginConfig(t, reset, applyPlugin(t, reset), 60*time.Second)
	afterReset := shareOfRF(t, "reset", 200)

	fmt.Printf("adaptive through istiod: new users to rf while learned %.1f %%; after an update keeping the block "+
		"(in Envoy %s after the apply) %.1f %%; after changing min_share_percent %.1f %% (burn-in 50/50)\n",
		100*learned, took.Round(time.Millisecond), 100*afterKeep, 100*afterReset)
	if learned > 0.15 || afterKeep > 0.15 {
		t.Errorf("the learned allocation (rf 5 %%) was not served: %.3f while learned, %.3f after the update", learned, afterKeep)
	}
	if afterReset < 0.35 || afterReset > 0.65 {
		t.Errorf("after the block changed, rf got %.3f of new users (burn-in: 0.5)", afterReset)
	}
}

// Signed overrides with the key in the gateway's environment, handed to the VM by the WasmPlugin's
// vmConfig.env (valueFrom: HOST): a token minted by `predictor-router sign-override` forces rf; a
// plain name does not.
func TestSignedOverridesWithTheKeyFromTheGatewaysEnvironment(t *testing.T) {
	defer restoreSeed(t)
	text := pluginOf(t, "envoyfilter/overlays/signed-overrides")
	waitForPluginConfig(t, text, applyPlugin(t, text), 60*time.Second)
	waitForRouting(t, 30*time.Second, routedByTheFilter)

	ids := users("signed", 200)
	expected, err := offline(filepath.Join(controlplane.RepoRoot(), "envoyfilter", "base", "wasmplugin.yaml"), ids)
	if err != nil {
		t.Fatal(err)
	}
	xgbUser := ""
	for _, id := range ids {
		if expected[id] == "xgb" {
			xgbUser = id
			break
		}
	}
	cli := filepath.Join(controlplane.RepoRoot(), "target", "release", "predictor-router")
	cmd := commandWithEnv(cli, []string{"PREDICTOR_ROUTER_KEYS=" + world.signKey},
		"sign-override", "--experiment", "fraud-detection", "--predictor", "rf", "--ttl", "1h")
	token, err := cmd.Output()
	if err != nil {
		t.Fatalf("predictor-router sign-override: %v", err)
	}
	rejectedBefore := stats(t, "override_rejected")["wasmcustom.predictor_router.fraud-detection.override_rejected"]
	plain, err := send(predictPath, map[string]string{"x-user-id": xgbUser, "x-predictor-override": "rf"})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := send(predictPath, map[string]string{"x-user-id": xgbUser, "x-predictor-override": string(trimNewline(token))})
	if err != nil {
		t.Fatal(err)
	}
	if plain.ServedBy != "xgb" {
		t.Errorf("a plain override name moved an xgb user to %q", plain.ServedBy)
	}
	if signed.Predictor != "rf" || signed.ServedBy != "rf" {
		t.Errorf("a signed token for rf: predictor %q, served by %q", signed.Predictor, signed.ServedBy)
	}
	var rejected int64
	deadline := time.Now().Add(5 * time.Second)
	for rejected <= rejectedBefore && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		rejected = stats(t, "override_rejected")["wasmcustom.predictor_router.fraud-detection.override_rejected"]
	}
	if rejected != rejectedBefore+1 {
		t.Errorf("override_rejected %d → %d for one plain name", rejectedBefore, rejected)
	}
	fmt.Printf("signed overrides under Istio: the key from the gateway's environment (vmConfig.env valueFrom HOST); "+
		"token → %s, plain \"rf\" → %s (override_rejected +%d)\n", signed.ServedBy, plain.ServedBy, rejected-rejectedBefore)
}
