// Package controlplane runs the real Kubernetes and Istio control plane on loopback for the tests:
// etcd, kube-apiserver, istiod and Istio's agent, each the unmodified binary built from its project's
// Go module (see go.mod for the versions), never a prebuilt download.
package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// RepoRoot is the predictor-router checkout this module sits in (tests/istio/..).
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// BinDir holds the binaries `make control-plane` installs: $PREDICTOR_ROUTER_CONTROL_PLANE_BIN or
// <repo>/.cache/control-plane/bin.
func BinDir() string {
	if dir := os.Getenv("PREDICTOR_ROUTER_CONTROL_PLANE_BIN"); dir != "" {
		return dir
	}
	return filepath.Join(RepoRoot(), ".cache", "control-plane", "bin")
}

// Binary is the path of one binary `make control-plane` installed.
func Binary(name string) (string, error) {
	path := filepath.Join(BinDir(), name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s is not built (%v): run `make control-plane` first", name, err)
	}
	return path, nil
}
