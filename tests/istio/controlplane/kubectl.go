package controlplane

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Kubectl runs kubectl (built from k8s.io/kubernetes at the API server's version) against the
// cluster, with stdin as its standard input when not empty. It returns stdout; a failure carries
// kubectl's own stderr, which is the API server's message.
func (c *Cluster) Kubectl(stdin string, args ...string) (string, error) {
	bin, err := Binary("kubectl")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig=" + c.Kubeconfig, "--request-timeout=60s"}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// ApplyCRDs installs the CRDs of the given files for real (server-side apply: Istio's and Gateway
// API's CRDs are too large for the client-side apply annotation) and waits until each is served.
func (c *Cluster) ApplyCRDs(files []string) error {
	for _, file := range files {
		if _, err := c.Kubectl("", "apply", "--server-side", "--field-manager=predictor-router-tests", "-f", file); err != nil {
			return err
		}
	}
	_, err := c.Kubectl("", "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
	if err != nil {
		return err
	}
	// Discovery of the new kinds lags their Established condition by a moment.
	return Eventually(30*time.Second, nil, func() error {
		_, err := c.Kubectl("", "get", "wasmplugins.extensions.istio.io", "-A")
		return err
	})
}

// EnsureNamespaces creates each namespace that does not exist yet (for real: dry-run applies of
// namespaced objects need their namespace).
func (c *Cluster) EnsureNamespaces(names []string) error {
	for _, name := range names {
		if _, err := c.Kubectl("", "get", "namespace", name); err == nil {
			continue
		}
		if _, err := c.Kubectl("", "create", "namespace", name); err != nil {
			return err
		}
	}
	return nil
}
