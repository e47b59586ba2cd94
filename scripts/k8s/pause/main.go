// The pause container of the test cluster's pods (containerd's sandbox_image), built by scripts/k8s/build.sh
// because registry.k8s.io/pause cannot be pulled here: it holds the pod's namespaces open, reaps zombies (as
// PID 1 of a pod that shares its process namespace) and exits 0 on SIGINT or SIGTERM, as the upstream one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		os.Stdout.WriteString("gpumon pause\n")
		return
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
