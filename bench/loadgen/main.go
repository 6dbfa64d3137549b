// Command loadgen is Session Mesh's load generator for bench/run.mjs.
//
//	loadgen connect  -url ws://127.0.0.1:8080/ -n 15000 -secret S   authenticated sockets, held idle
//	loadgen connect  -url ws://127.0.0.1:9001/ -n 15000 -raw         plain WebSocket sockets (baseline server)
//	loadgen publish  -nats nats://127.0.0.1:4222 -users 10000        targeted pushes over NATS
//
// Both modes print one JSON object per line on stdout; diagnostics go to stderr.
// The client side is written against raw epoll so that one process holds tens of thousands of
// sockets at a few hundred bytes each and spends as little CPU per received push as possible:
// a benchmark whose clients cost more than the server measures the clients.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen connect|publish [flags] (-h for flags)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "connect":
		err = runConnect(os.Args[2:])
	case "publish":
		err = runPublish(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q (want connect or publish)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

var outMu sync.Mutex

// emit writes one JSON line on stdout; lines from different goroutines never interleave.
func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: json:", err)
		return
	}
	outMu.Lock()
	os.Stdout.Write(append(b, '\n'))
	outMu.Unlock()
}
