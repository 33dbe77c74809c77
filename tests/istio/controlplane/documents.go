package controlplane

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	kyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Document is one Kubernetes object of a manifest file.
type Document struct {
	File       string // relative to the repository
	Index      int    // 1-based position in its file
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	Raw        []byte // the document's YAML as written
}

// String names the document in test output: file#n Kind namespace/name.
func (d Document) String() string {
	where := d.Name
	if d.Namespace != "" {
		where = d.Namespace + "/" + d.Name
	}
	return d.File + "#" + strconv.Itoa(d.Index) + " " + d.Kind + " " + where
}

// ManifestDocuments is every Kubernetes object in the *.yaml files below dir (relative to the
// repository), in file order; documents without apiVersion and kind (none today) are left out.
func ManifestDocuments(dir string) ([]Document, error) {
	root := RepoRoot()
	files := []string{}
	err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	docs := []Document{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(root, file)
		found, err := SplitDocuments(rel, data)
		if err != nil {
			return nil, err
		}
		docs = append(docs, found...)
	}
	return docs, nil
}

// SplitDocuments reads the objects of one multi-document YAML stream.
func SplitDocuments(name string, data []byte) ([]Document, error) {
	reader := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	docs := []Document{}
	for index := 1; ; index++ {
		raw, err := reader.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(raw, &head); err != nil {
			return nil, err
		}
		if head.APIVersion == "" || head.Kind == "" {
			index--
			continue
		}
		docs = append(docs, Document{
			File: name, Index: index, APIVersion: head.APIVersion, Kind: head.Kind,
			Name: head.Metadata.Name, Namespace: head.Metadata.Namespace, Raw: raw,
		})
	}
}
