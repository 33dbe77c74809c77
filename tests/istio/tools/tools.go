//go:build tools

// Package tools pins the binaries the control-plane tests build: Kubernetes' API server and
// kubectl, and Istio's istiod and agent (etcd is cmd/etcd). They are built from these modules,
// never downloaded prebuilt.
package tools

import (
	_ "istio.io/istio/pilot/cmd/pilot-agent"
	_ "istio.io/istio/pilot/cmd/pilot-discovery"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
