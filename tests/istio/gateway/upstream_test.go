package gateway

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// predictor is a loopback upstream standing in for one Seldon predictor's pods: it answers every
// request with its own name, and records the routing header it received.
type predictor struct {
	Name    string
	IP      string // its own loopback address, as a pod has its own IP
	Port    int
	failPct atomic.Int64 // share of requests answered 503, in percent
	served  atomic.Int64
	mu      sync.Mutex
	headers []string // the x-predictor header of each request received
	server  *http.Server
}

func startPredictor(name, ip string) (*predictor, error) {
	listener, err := net.Listen("tcp", ip+":0")
	if err != nil {
		return nil, err
	}
	p := &predictor{Name: name, IP: ip, Port: listener.Addr().(*net.TCPAddr).Port}
	p.server = &http.Server{Handler: http.HandlerFunc(p.serve)}
	go func() { _ = p.server.Serve(listener) }()
	return p, nil
}

func (p *predictor) serve(w http.ResponseWriter, r *http.Request) {
	n := p.served.Add(1)
	p.mu.Lock()
	p.headers = append(p.headers, r.Header.Get("x-predictor"))
	p.mu.Unlock()
	w.Header().Set("content-type", "application/json")
	w.Header().Set("x-served-by", p.Name)
	if fail := p.failPct.Load(); fail > 0 && n%100 < fail {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"predictor": p.Name, "path": r.URL.Path})
}

// receivedHeaders is the routing header of every request this predictor received since the
// (from)th request.
func (p *predictor) receivedHeaders(from int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.headers[from:]...)
}

// received is how many requests the predictor has recorded.
func (p *predictor) received() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.headers)
}

func (p *predictor) stop() { _ = p.server.Close() }

// objects are what a cluster running this predictor has: the Service Seldon creates (selecting
// the predictor's pods) and, for the pods, a WorkloadEntry with the predictor's labels (what the
// DestinationRule's subset selects) at its loopback address. Istio lets a Kubernetes Service select
// WorkloadEntries (as it does for VMs); an EndpointSlice cannot stand in here, because the API server
// refuses loopback addresses in EndpointSlices ("may not be in the loopback range").
func (p *predictor) objects(namespace, service string, labels map[string]string) string {
	labelJSON, _ := json.Marshal(labels)
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  selector: {app: %[1]s}
  ports: [{name: http, port: 8000, targetPort: %[4]d}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: %[1]s-loopback, namespace: %[2]s}
spec:
  address: %[5]s
  labels: %[3]s
  ports: {http: %[4]d}
`, service, namespace, labelJSON, p.Port, p.IP)
}
