// Command etcd is etcd's own server main (go.etcd.io/etcd/server/v3/etcdmain), built under the name
// the tests look for: `go install go.etcd.io/etcd/server/v3` would name the binary "server".
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
