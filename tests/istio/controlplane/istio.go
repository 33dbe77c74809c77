package controlplane

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// IstioModule is the Istio module whose istiod and agent run here (go.mod pins the same version).
const IstioModule, IstioVersion, IstioSum = "istio.io/istio", "v0.0.0-20260827124520-eed52ebb66ad",
	"h1:ui9TJjRMAV/hb5ehQaZDq7IUGxuQP6dra9lapT/VjHI="

// Istiod is Istio's control plane (the unmodified pilot-discovery) watching the cluster's API server.
type Istiod struct {
	*Process
	GRPCAddr  string // plaintext xDS, what the gateway's agent connects to
	HTTPURL   string // http://127.0.0.1:<port>: /ready and /debug
	MeshFile  string
	istiodDir string
}

// meshConfig is the mesh configuration istiod and the agent share: plaintext xDS to istiod, no
// Istio-only telemetry (no default metrics provider: upstream Envoy has no istio.stats filter), and
// no automatic mutual TLS: its clusters would wait for workload certificates from Istio's CA, which
// does not run here (the gateway's traffic to the predictors is plain HTTP).
func meshConfig(discovery string) string {
	return fmt.Sprintf(`rootNamespace: istio-system
trustDomain: cluster.local
ingressControllerMode: "OFF"
enablePrometheusMerge: false
enableAutoMtls: false
defaultConfig:
  discoveryAddress: %s
  controlPlaneAuthPolicy: NONE
`, discovery)
}

// StartIstiod runs pilot-discovery against the cluster, in dir/istiod.
func StartIstiod(c *Cluster, dir string) (*Istiod, error) {
	bin, err := Binary("pilot-discovery")
	if err != nil {
		return nil, err
	}
	istiodDir := filepath.Join(dir, "istiod")
	if err := os.MkdirAll(istiodDir, 0o755); err != nil {
		return nil, err
	}
	if err := c.EnsureNamespaces([]string{"istio-system"}); err != nil {
		return nil, err
	}
	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	i := &Istiod{
		GRPCAddr:  "127.0.0.1:" + strconv.Itoa(ports[0]),
		HTTPURL:   "http://127.0.0.1:" + strconv.Itoa(ports[1]),
		MeshFile:  filepath.Join(istiodDir, "mesh.yaml"),
		istiodDir: istiodDir,
	}
	if err := os.WriteFile(i.MeshFile, []byte(meshConfig(i.GRPCAddr)), 0o644); err != nil {
		return nil, err
	}
	i.Process, err = Start("istiod", istiodDir, bin, []string{
		"discovery",
		"--kubeconfig=" + c.Kubeconfig,
		"--meshConfig=" + i.MeshFile,
		"--networksConfig=" + filepath.Join(istiodDir, "no-mesh-networks.yaml"),
		"--grpcAddr=" + i.GRPCAddr,
		"--httpAddr=127.0.0.1:" + strconv.Itoa(ports[1]),
		"--monitoringAddr=127.0.0.1:" + strconv.Itoa(ports[2]),
		// No certificates here: no secure xDS, no webhook server.
		"--secureGRPCAddr=",
		"--httpsAddr=",
		"--domain=cluster.local",
		"--log_output_level=default:info",
	}, []string{
		"POD_NAMESPACE=istio-system",
		"POD_NAME=istiod-0",
		"REVISION=default",
		// No Istio CA: the gateway's traffic is plain HTTP and needs no workload certificates.
		"ENABLE_CA_SERVER=false",
		// Upstream Envoy lacks Istio's own extensions; istiod must not add them to the gateway.
		"PILOT_ENABLE_METADATA_EXCHANGE=false",
		"PILOT_ENABLE_ALPN_FILTER=false",
		// No webhooks to patch: nothing calls them here.
		"INJECTION_WEBHOOK_CONFIG_NAME=",
		"VALIDATION_WEBHOOK_CONFIG_NAME=",
		// Gateway API gateways are run by the test itself (no kubelet would start a deployment).
		"PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER=false",
	})
	if err != nil {
		return nil, err
	}
	if err := WaitOK(120*time.Second, i.Process, probeClient, i.HTTPURL+"/ready", ""); err != nil {
		i.Stop()
		return nil, err
	}
	return i, nil
}

// AgentDataDir is where Istio's agent stores the Wasm modules it fetched.
const AgentDataDir = "/var/lib/istio/data"

// Gateway is Istio's agent (`pilot-agent proxy router`) running the PyPI Envoy as an ingress gateway.
type Gateway struct {
	*Process
	Dir        string
	AdminURL   string // Envoy's admin interface
	StatusPort int    // the agent's status server
}

// GatewayOptions describe one gateway pod: its labels (what Gateway and WasmPlugin selectors
// match) and extra environment (what the pod spec's env would set).
type GatewayOptions struct {
	Name      string
	Namespace string
	Labels    map[string]string
	Env       []string
}

// StartGateway runs the agent in dir/<name>, connected to istiod over plaintext xDS, with the
// bootstrap template Istio's proxy image ships (from the Istio module), and waits for Envoy's admin.
func StartGateway(istiod *Istiod, envoyBin, dir string, opts GatewayOptions) (*Gateway, error) {
	bin, err := Binary("pilot-agent")
	if err != nil {
		return nil, err
	}
	istioDir, err := ModuleDir(IstioModule, IstioVersion, IstioSum)
	if err != nil {
		return nil, err
	}
	gwDir := filepath.Join(dir, opts.Name)
	template, err := os.ReadFile(filepath.Join(istioDir, "tools", "packaging", "common", "envoy_bootstrap.json"))
	if err != nil {
		return nil, err
	}
	// The agent reads the template at this path relative to its working directory.
	if err := os.MkdirAll(filepath.Join(gwDir, "var", "lib", "istio", "envoy"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(gwDir, "var", "lib", "istio", "envoy", "envoy_bootstrap_tmpl.json"), template, 0o644); err != nil {
		return nil, err
	}
	// The agent keeps fetched Wasm modules in a fixed absolute folder that Istio's proxy image creates
	// (istio's constants.IstioDataDir); without it every fetch fails with "no such file or directory".
	if err := os.MkdirAll(AgentDataDir, 0o755); err != nil {
		return nil, fmt.Errorf("the agent's data folder %s: %v", AgentDataDir, err)
	}
	// The agent's certificate client wants the mesh's root certificate where the injector mounts it.
	// With istiod's CA off and plain traffic, no certificate is ever requested: any CA will do.
	secrets := filepath.Join(gwDir, "var", "run", "secrets", "istio")
	if err := os.MkdirAll(secrets, 0o755); err != nil {
		return nil, err
	}
	certs, err := writeServerCertificates(secrets)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(certs.CAFile, filepath.Join(secrets, "root-cert.pem")); err != nil {
		return nil, err
	}
	ports, err := FreePorts(4)
	if err != nil {
		return nil, err
	}
	proxyConfig, err := json.Marshal(map[string]any{
		"discoveryAddress":         istiod.GRPCAddr,
		"controlPlaneAuthPolicy":   "NONE",
		"binaryPath":               envoyBin,
		"configPath":               filepath.Join(gwDir, "etc", "istio", "proxy"),
		"proxyAdminPort":           ports[0],
		"statusPort":               ports[1],
		"drainDuration":            "1s",
		"terminationDrainDuration": "1s",
	})
	if err != nil {
		return nil, err
	}
	labels, err := json.Marshal(opts.Labels)
	if err != nil {
		return nil, err
	}
	meshFile := filepath.Join(gwDir, "mesh.yaml")
	if err := os.WriteFile(meshFile, []byte(meshConfig(istiod.GRPCAddr)), 0o644); err != nil {
		return nil, err
	}
	env := append([]string{
		"PROXY_CONFIG=" + string(proxyConfig),
		"POD_NAME=" + opts.Name + "-0",
		"POD_NAMESPACE=" + opts.Namespace,
		"INSTANCE_IP=127.0.0.1",
		"SERVICE_ACCOUNT=" + opts.Name,
		"ISTIO_META_CLUSTER_ID=Kubernetes",
		"ISTIO_METAJSON_LABELS=" + string(labels),
		"ISTIO_META_WORKLOAD_NAME=" + opts.Name,
		"ISTIO_META_OWNER=kubernetes://apis/apps/v1/namespaces/" + opts.Namespace + "/deployments/" + opts.Name,
		"ENVOY_PROMETHEUS_PORT=" + strconv.Itoa(ports[2]),
		"ENVOY_STATUS_PORT=" + strconv.Itoa(ports[3]),
		"CA_ADDR=" + istiod.GRPCAddr,
		"JWT_POLICY=first-party-jwt",
	}, opts.Env...)
	g := &Gateway{Dir: gwDir, AdminURL: "http://127.0.0.1:" + strconv.Itoa(ports[0]), StatusPort: ports[1]}
	g.Process, err = Start("gateway", gwDir, bin, []string{
		"proxy", "router",
		"--domain=" + opts.Namespace + ".svc.cluster.local",
		"--meshConfig=" + meshFile,
		"--concurrency=2",
		"--proxyLogLevel=warning,wasm:info",
		"--log_output_level=default:info",
	}, env)
	if err != nil {
		return nil, err
	}
	if err := WaitOK(60*time.Second, g.Process, probeClient, g.AdminURL+"/ready", ""); err != nil {
		g.Stop()
		return nil, err
	}
	return g, nil
}

// Stop ends istiod (nothing when it never started).
func (i *Istiod) Stop() {
	if i != nil {
		i.Process.Stop()
	}
}

// Stop ends the agent and its Envoy (nothing when it never started).
func (g *Gateway) Stop() {
	if g != nil {
		g.Process.Stop()
	}
}
