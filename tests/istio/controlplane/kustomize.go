package controlplane

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Kustomizations is every folder under envoyfilter/ with a kustomization.yaml, relative to the
// repository, sorted.
func Kustomizations() ([]string, error) {
	root := RepoRoot()
	dirs := []string{}
	err := filepath.WalkDir(filepath.Join(root, "envoyfilter"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "kustomization.yaml" {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			dirs = append(dirs, rel)
		}
		return nil
	})
	sort.Strings(dirs)
	return dirs, err
}

// KustomizePatches is every file that a kustomization under envoyfilter/ uses as a patch (relative
// to the repository): partial objects, judged through the renderings that apply them.
func KustomizePatches() (map[string]bool, error) {
	dirs, err := Kustomizations()
	if err != nil {
		return nil, err
	}
	patches := map[string]bool{}
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(RepoRoot(), dir, "kustomization.yaml"))
		if err != nil {
			return nil, err
		}
		var k struct {
			Patches []struct {
				Path string `json:"path"`
			} `json:"patches"`
		}
		if err := yaml.Unmarshal(data, &k); err != nil {
			return nil, fmt.Errorf("%s/kustomization.yaml: %v", dir, err)
		}
		for _, p := range k.Patches {
			if p.Path != "" {
				patches[filepath.Join(dir, p.Path)] = true
			}
		}
	}
	return patches, nil
}

// UserKustomization writes, in dir, the kustomization a user writes on top of a shipped one
// (resource: the repository folder shipped, relative as kustomize requires), with more appended
// (images:, patches:), and renders it with kubectl kustomize.
func (c *Cluster) UserKustomization(dir, shipped, more string) (string, error) {
	rel, err := filepath.Rel(dir, filepath.Join(RepoRoot(), shipped))
	if err != nil {
		return "", err
	}
	text := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + rel + "\n" + more
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(text), 0o644); err != nil {
		return "", err
	}
	return c.Kubectl("", "kustomize", dir)
}

// DocumentOfKind is the one document of kind in a rendering.
func DocumentOfKind(rendering, kind string) (Document, error) {
	docs, err := SplitDocuments("rendering", []byte(rendering))
	if err != nil {
		return Document{}, err
	}
	found := []Document{}
	for _, d := range docs {
		if d.Kind == kind {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		return Document{}, fmt.Errorf("%d documents of kind %s in the rendering:\n%s", len(found), kind, strings.TrimSpace(rendering))
	}
	return found[0], nil
}
