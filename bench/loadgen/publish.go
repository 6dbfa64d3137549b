package main

import (
	"bufio"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

func runPublish(args []string) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	natsURL := fs.String("nats", "nats://127.0.0.1:4222", "NATS URL (loopback only)")
	users := fs.Int("users", 1000, "pushes go to random users u0..u(users-1)")
	userPrefix := fs.String("user-prefix", "u", "user id prefix")
	subjectPrefix := fs.String("subject-prefix", "mesh.push.user.", "subject = prefix + base64url(user id), unpadded")
	size := fs.Int("size", 100, "payload bytes")
	duration := fs.Duration("duration", 20*time.Second, "measured publishing time limit")
	count := fs.Int64("count", 0, "measured pushes to publish (0: until -duration)")
	warmup := fs.Int64("warmup", 0, "pushes published (and awaited, with -credit-socket) before the measured run")
	window := fs.Int64("window", 50000, "with -credit-socket: at most this many pushes published but not yet received")
	creditPath := fs.String("credit-socket", "", "unix socket of a loadgen connect -credit-socket (flow control)")
	waitGo := fs.Bool("wait-go", false, "after warm-up, wait for a line on stdin before the measured run; after it, wait for another before exiting")
	seed := fs.Uint64("seed", 1, "random seed for the choice of users")
	publishedAt := fs.Bool("published-at", false, "every push carries Mesh-Published-At (ms since the epoch), as the admin API sets it")
	traceRatio := fs.Float64("traceparent", -1, "every push carries a W3C traceparent, sampled (flags 01) with this probability (-1: no traceparent)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *users < 1 || *size < 1 {
		return errors.New("-users and -size must be >= 1")
	}
	if *count <= 0 && *duration <= 0 {
		return errors.New("give -count or -duration: every run is bounded")
	}
	if *duration <= 0 || *duration > 10*time.Minute {
		*duration = 10 * time.Minute
	}

	subjects := make([]string, *users)
	for i := range subjects {
		subjects[i] = *subjectPrefix + base64.RawURLEncoding.EncodeToString([]byte(*userPrefix+strconv.Itoa(i)))
	}
	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	rng := rand.New(rand.NewPCG(*seed, 0x5e5510))

	var credit *creditClient
	if *creditPath != "" {
		var err error
		if credit, err = dialCredit(*creditPath); err != nil {
			return fmt.Errorf("credit socket: %w", err)
		}
		if !waitCredit(credit, func(v int64) bool { return v >= 0 }, 5*time.Second) {
			return errors.New("credit socket: no count received within 5 s")
		}
	}
	nc, err := nats.Connect(*natsURL, nats.Name("bench-publisher"), nats.MaxReconnects(0))
	if err != nil {
		return fmt.Errorf("nats connect: %w", err)
	}
	defer nc.Close()
	emit(map[string]any{"event": "connected", "server": nc.ConnectedServerVersion()})

	var base int64
	if credit != nil {
		base = credit.value.Load()
	}
	stalls, stallNs := int64(0), int64(0)
	// publish sends up to want pushes before the deadline, keeping the window; returns how many it sent.
	var sent int64
	publish := func(want int64, deadline time.Time) (int64, error) {
		var k int64
		for want <= 0 || k < want {
			if k&255 == 0 {
				if time.Now().After(deadline) {
					break
				}
				if credit != nil && sent-(credit.value.Load()-base) > *window {
					stalls++
					t0 := time.Now()
					for sent-(credit.value.Load()-base) > *window && time.Now().Before(deadline) {
						select {
						case _, ok := <-credit.updated:
							if !ok {
								return k, fmt.Errorf("credit socket closed: %v", credit.err.Load())
							}
						case <-time.After(2 * time.Millisecond):
						}
					}
					stallNs += time.Since(t0).Nanoseconds()
				}
			}
			subject := subjects[rng.IntN(len(subjects))]
			var err error
			if *publishedAt || *traceRatio >= 0 {
				err = nc.PublishMsg(&nats.Msg{Subject: subject, Data: payload, Header: pushHeaders(rng, *publishedAt, *traceRatio)})
			} else {
				err = nc.Publish(subject, payload)
			}
			if err != nil {
				return k, fmt.Errorf("publish: %w", err)
			}
			k++
			sent++
		}
		return k, nc.FlushTimeout(10 * time.Second)
	}

	if *warmup > 0 {
		t0 := time.Now()
		if _, err := publish(*warmup, t0.Add(30*time.Second)); err != nil {
			return err
		}
		received := int64(-1)
		if credit != nil {
			target := base + sent
			waitCredit(credit, func(v int64) bool { return v >= target }, 15*time.Second)
			received = credit.value.Load() - base
		}
		emit(map[string]any{"event": "warmed", "published": sent, "received": received, "ms": time.Since(t0).Milliseconds()})
	}
	stdin := bufio.NewReader(os.Stdin)
	if *waitGo {
		line, err := stdin.ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("waiting for go on stdin: %w", err)
		}
	}

	ru0 := rusage()
	stalls, stallNs = 0, 0
	t0 := time.Now()
	n, err := publish(*count, t0.Add(*duration))
	elapsed := time.Since(t0)
	ru1 := rusage()
	if err != nil {
		return err
	}
	emit(map[string]any{
		"event": "done", "published": n, "elapsedMs": elapsed.Milliseconds(),
		"perSecond": float64(n) / elapsed.Seconds(), "stalls": stalls, "stallMs": stallNs / 1e6,
		"cpuUserUs": ru1[0] - ru0[0], "cpuSystemUs": ru1[1] - ru0[1], "size": *size, "users": *users,
		"outMsgs": nc.Stats().OutMsgs,
	})
	if *waitGo {
		// Stay alive (idle) until told or stdin closes, so the orchestrator can still read this
		// process's CPU time in /proc after the run; bounded like everything else.
		done := make(chan struct{})
		go func() {
			_, _ = stdin.ReadString('\n')
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
		}
	}
	return nil
}

func waitCredit(c *creditClient, ok func(int64) bool, limit time.Duration) bool {
	deadline := time.After(limit)
	for !ok(c.value.Load()) {
		select {
		case _, open := <-c.updated:
			if !open {
				return ok(c.value.Load())
			}
		case <-deadline:
			return false
		}
	}
	return true
}

func rusage() [2]int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return [2]int64{ru.Utime.Sec*1e6 + ru.Utime.Usec, ru.Stime.Sec*1e6 + ru.Stime.Usec}
}

// pushHeaders: what a traced backend sends (telemetry bench): the publish time and a traceparent.
func pushHeaders(rng *rand.Rand, publishedAt bool, traceRatio float64) nats.Header {
	h := nats.Header{}
	if publishedAt {
		h.Set("Mesh-Published-At", strconv.FormatInt(time.Now().UnixMilli(), 10))
	}
	if traceRatio >= 0 {
		flags := "00"
		if rng.Float64() < traceRatio {
			flags = "01"
		}
		h.Set("traceparent", fmt.Sprintf("00-%016x%016x-%016x-%s", rng.Uint64(), rng.Uint64()|1, rng.Uint64()|1, flags))
	}
	return h
}
