package gateway

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"predictor-router/tests/istio/controlplane"
)

// answer is what a client got from the gateway.
type answer struct {
	Status    int
	Predictor string // the filter's x-predictor response header
	ServedBy  string // the upstream that answered (x-served-by)
	SetCookie string
	Body      string
}

var client = &http.Client{Timeout: 10 * time.Second}

// send makes one prediction request through the gateway with the given headers.
func send(path string, headers map[string]string) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, gatewayURL(path), strings.NewReader(`{"data":{"ndarray":[[1,2,3,4]]}}`))
	if err != nil {
		return answer{}, err
	}
	req.Host = "models.example.com"
	req.Header.Set("content-type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{
		Status:    resp.StatusCode,
		Predictor: resp.Header.Get("x-predictor"),
		ServedBy:  resp.Header.Get("x-served-by"),
		SetCookie: resp.Header.Get("set-cookie"),
		Body:      string(body),
	}, nil
}

const predictPath = "/seldon/default/fraud-detection/api/v1.0/predictions"

// offline is the predictor the CLI assigns each user under a configuration file: the contract's bucket
// formula recomputed outside the gateway.
func offline(config string, users []string) (map[string]string, error) {
	cli := filepath.Join(controlplane.RepoRoot(), "target", "release", "predictor-router")
	cmd := exec.Command(cli, "assign", "--config", config, "--experiment", "fraud-detection", "--users", "-")
	cmd.Stdin = strings.NewReader(strings.Join(users, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("predictor-router assign (make cli): %v", err)
	}
	assigned := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		fields := strings.Split(line, ",")
		assigned[fields[0]] = fields[2]
	}
	return assigned, nil
}

// writeTemp writes text to a file of the test's temporary directory.
func writeTemp(dir, name, text string) (string, error) {
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(text), 0o644)
}

func users(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// commandWithEnv is a command with extra environment variables.
func commandWithEnv(bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func trimNewline(b []byte) []byte {
	return []byte(strings.TrimSpace(string(b)))
}
