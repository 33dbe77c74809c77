package controlplane

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// crdSource is a CRD file (or every CRD file of a folder) in one project's Go module, pinned by
// version and by the module's checksum, so that the CRDs the tests install are those the projects
// release and cannot change under the tests.
type crdSource struct {
	Module, Version, Sum string
	Paths                []string // files, or folders whose *.yaml files are all taken
}

// The CRDs of every kind under envoyfilter/. Istio's come from the module istiod is built from
// (go.mod); the others from their projects' releases (KServe's newest version the Go module proxy
// serves: v0.21.0 and v0.18.0 are refused). Seldon Core v1's operator is not served by
// the Go module proxy: its CRD is committed under crds/ with its origin (crds/README.md).
var crdSources = []crdSource{
	{
		Module: "istio.io/istio", Version: "v0.0.0-20260827124520-eed52ebb66ad",
		Sum:   "h1:ui9TJjRMAV/hb5ehQaZDq7IUGxuQP6dra9lapT/VjHI=",
		Paths: []string{"manifests/charts/base/files/crd-all.gen.yaml"},
	},
	{
		Module: "sigs.k8s.io/gateway-api", Version: "v1.6.1",
		Sum:   "h1:mock6phZbI6rvZerwrVNk7hVNymQgHo+6sJ81Ia7ftY=",
		Paths: []string{"config/crd/standard"},
	},
	{
		Module: "github.com/envoyproxy/gateway", Version: "v1.9.0",
		Sum:   "h1:PaOpud15v3kDCl3L5yc1TdYzggCMpRm1yRjNKmLkzHA=",
		Paths: []string{"charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_envoyextensionpolicies.yaml"},
	},
	{
		Module: "github.com/kserve/kserve", Version: "v0.20.0",
		Sum:   "h1:Bs7HxmGV4KFqqptDcWseKv+mwD4YOYHJWcuVgPG2Gug=",
		Paths: []string{"config/crd/full/serving.kserve.io_inferenceservices.yaml"},
	},
	{
		Module: "github.com/prometheus-operator/prometheus-operator", Version: "v0.93.0",
		Sum: "h1:AohlYJT+En8TmNpAcEUJ3GsaJTAqfEBwHmGTVpRm/Io=",
		Paths: []string{
			"example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
			"example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
		},
	},
}

// CRDVersions names each CRD source and version, for test output.
func CRDVersions() []string {
	out := []string{}
	for _, s := range crdSources {
		out = append(out, s.Module+"@"+s.Version)
	}
	return append(out, "Seldon Core v1.18.2 (committed: tests/istio/crds)")
}

// ModuleDir downloads module@version through the Go module proxy (once: the module cache keeps it)
// and returns its folder after checking the module's checksum against sum.
func ModuleDir(module, version, sum string) (string, error) {
	// Outside any module, so that go.mod and go.sum of this one are never touched.
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	var info struct{ Dir, Sum, Error string }
	if jsonErr := json.Unmarshal(out, &info); jsonErr != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v %v %s", module, version, err, jsonErr, out)
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	if info.Sum != sum {
		return "", fmt.Errorf("%s@%s has checksum %s, pinned %s", module, version, info.Sum, sum)
	}
	return info.Dir, nil
}

// CRDFiles is every CRD file the tests install, downloading the modules they come from if needed.
func CRDFiles() ([]string, error) {
	files := []string{}
	for _, s := range crdSources {
		dir, err := ModuleDir(s.Module, s.Version, s.Sum)
		if err != nil {
			return nil, err
		}
		for _, p := range s.Paths {
			full := filepath.Join(dir, p)
			found, err := yamlFiles(full)
			if err != nil {
				return nil, err
			}
			files = append(files, found...)
		}
	}
	committed, err := yamlFiles(filepath.Join(RepoRoot(), "tests", "istio", "crds"))
	if err != nil {
		return nil, err
	}
	return append(files, committed...), nil
}

// yamlFiles is path itself when it is a file, else the *.yaml files below it (kustomization.yaml
// excepted), sorted.
func yamlFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	out := []string{}
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yaml") && d.Name() != "kustomization.yaml" {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}
