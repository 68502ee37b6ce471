// Command pause is the local cluster's sandbox image (registry.k8s.io/pause:3.10 there, since no
// registry is reachable): process 1 of every pod, holding its namespaces. Like the upstream pause
// it sleeps until SIGTERM or SIGINT and reaps any child re-parented to it, so that no zombie
// piles up when a pod shares its process namespace.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
