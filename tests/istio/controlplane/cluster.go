package controlplane

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Cluster is a Kubernetes API server on loopback, backed by its own etcd: no kubelet, no
// controller manager, no scheduler. Objects are stored and validated exactly as on a real cluster.
type Cluster struct {
	Dir        string // working directory: etcd's data, certificates, logs
	Kubeconfig string // admin kubeconfig (token of a system:masters user)
	URL        string // https://127.0.0.1:<port>
	Etcd       *Process
	APIServer  *Process
	caFile     string
	token      string
}

// StartCluster starts etcd and kube-apiserver in dir and waits until the API server is ready.
func StartCluster(dir string) (*Cluster, error) {
	etcdBin, err := Binary("etcd")
	if err != nil {
		return nil, err
	}
	apiserverBin, err := Binary("kube-apiserver")
	if err != nil {
		return nil, err
	}
	certs, err := writeServerCertificates(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, caFile: certs.CAFile, token: "predictor-router-admin-token"}

	ports, err := FreePorts(3) // etcd client, etcd peer, API server
	if err != nil {
		return nil, err
	}
	clientPort, peerPort, port := ports[0], ports[1], ports[2]
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	c.Etcd, err = Start("etcd", dir, etcdBin, []string{
		"--name=default",
		"--data-dir=" + filepath.Join(dir, "etcd-data"),
		"--listen-client-urls=" + clientURL,
		"--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		"--listen-metrics-urls=",
		"--log-level=warn",
		// Tests write a few hundred objects: no need to sync every write to disk.
		"--unsafe-no-fsync",
	}, nil)
	if err != nil {
		return nil, err
	}
	if err := WaitOK(30*time.Second, c.Etcd, probeClient, clientURL+"/health", ""); err != nil {
		c.Stop()
		return nil, err
	}

	tokenFile := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(c.token+",predictor-router-admin,1,\"system:masters\"\n"), 0o600); err != nil {
		c.Stop()
		return nil, err
	}
	c.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
	c.APIServer, err = Start("kube-apiserver", dir, apiserverBin, []string{
		"--etcd-servers=" + clientURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + certs.CertFile,
		"--tls-private-key-file=" + certs.KeyFile,
		"--client-ca-file=" + certs.CAFile,
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + certs.ServiceAccountPub,
		"--service-account-signing-key-file=" + certs.ServiceAccountKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		// Without a controller manager nobody creates a namespace's `default` ServiceAccount, which
		// this admission plugin would require of every Pod.
		"--disable-admission-plugins=ServiceAccount",
		// The aggregation layer needs a front-proxy certificate; nothing here aggregates.
		"--enable-aggregator-routing=false",
		"--profiling=false",
		"-v=1",
	}, nil)
	if err != nil {
		c.Stop()
		return nil, err
	}
	client, err := c.httpClient()
	if err != nil {
		c.Stop()
		return nil, err
	}
	if err := WaitOK(120*time.Second, c.APIServer, client, c.URL+"/readyz", c.token); err != nil {
		c.Stop()
		return nil, err
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, []byte(c.kubeconfig()), 0o600); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) httpClient() (*http.Client, error) {
	pem, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}, nil
}

func (c *Cluster) kubeconfig() string {
	return strings.Join([]string{
		"apiVersion: v1",
		"kind: Config",
		"clusters:",
		"- name: local",
		"  cluster:",
		"    server: " + c.URL,
		"    certificate-authority: " + c.caFile,
		"users:",
		"- name: admin",
		"  user:",
		"    token: " + c.token,
		"contexts:",
		"- name: local",
		"  context: {cluster: local, user: admin}",
		"current-context: local",
		"",
	}, "\n")
}

// Stop ends the API server, then etcd.
func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	c.APIServer.Stop()
	c.Etcd.Stop()
}
