// Command etcd is etcd's own server entry point, built here because release binaries cannot be
// downloaded on the machines this project builds on.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
