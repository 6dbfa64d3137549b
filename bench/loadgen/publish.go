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
	rate := fs.Float64("rate", 0, "offered pushes per second, paced every millisecond (0: as fast as the window allows)")
	encoding := fs.String("subject-encoding", "base64", "user id in the subject: base64 (base64url, unpadded: Session Mesh) or plain (Centrifugo raw mode)")
	fixed := fs.String("subject", "", "publish every push to this one subject (a broadcast) instead of per-user subjects")
	httpAPI := fs.String("http-api", "", "Centrifugo HTTP API base URL (http://127.0.0.1:8000/api): publish with batch requests instead of NATS")
	apiKey := fs.String("api-key", "", "Centrifugo HTTP API key")
	channelPrefix := fs.String("channel-prefix", "personal:", "with -http-api: channel = prefix + user id")
	channel := fs.String("channel", "", "with -http-api: publish every push to this one channel (a broadcast)")
	batch := fs.Int("batch", 500, "with -http-api: publish commands per request at most")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *users < 1 || *size < 1 || *batch < 1 {
		return errors.New("-users, -size and -batch must be >= 1")
	}
	if *count <= 0 && *duration <= 0 {
		return errors.New("give -count or -duration: every run is bounded")
	}
	if *duration <= 0 || *duration > 10*time.Minute {
		*duration = 10 * time.Minute
	}

	subjects := make([]string, *users)
	for i := range subjects {
		id := *userPrefix + strconv.Itoa(i)
		switch {
		case *fixed != "":
			subjects[i] = *fixed
		case *httpAPI != "" && *channel != "":
			subjects[i] = *channel
		case *httpAPI != "":
			subjects[i] = *channelPrefix + id
		case *encoding == "plain":
			subjects[i] = *subjectPrefix + id
		default:
			subjects[i] = *subjectPrefix + base64.RawURLEncoding.EncodeToString([]byte(id))
		}
	}
	// A JSON string (so Centrifugo's raw mode and its JSON clients take it as it is) that starts with
	// the publish time: "~t<19 digits of Unix ns>aaaa…", size bytes in all (the loadgen's latency).
	if *size < 24 {
		return errors.New("-size must be >= 24 (the payload carries a timestamp)")
	}
	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	payload[0], payload[1], payload[2], payload[*size-1] = '"', '~', 't', '"'
	stampNow := func() {
		v := time.Now().UnixNano()
		for i := 21; i >= 3; i-- {
			payload[i] = byte('0' + v%10)
			v /= 10
		}
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
	var send func(subject string) error
	var flush func() error
	var outMsgs func() uint64
	if *httpAPI != "" {
		api := newCentrifugoAPI(*httpAPI, *apiKey, *batch)
		send = func(ch string) error { return api.add(ch, payload) }
		flush = api.flush
		outMsgs = func() uint64 { return api.published }
		emit(map[string]any{"event": "connected", "server": *httpAPI})
	} else {
		nc, err := nats.Connect(*natsURL, nats.Name("bench-publisher"), nats.MaxReconnects(0))
		if err != nil {
			return fmt.Errorf("nats connect: %w", err)
		}
		defer nc.Close()
		send = func(subject string) error {
			if *publishedAt || *traceRatio >= 0 {
				return nc.PublishMsg(&nats.Msg{Subject: subject, Data: payload, Header: pushHeaders(rng, *publishedAt, *traceRatio)})
			}
			return nc.Publish(subject, payload)
		}
		flush = func() error { return nc.FlushTimeout(10 * time.Second) }
		outMsgs = func() uint64 { return nc.Stats().OutMsgs }
		emit(map[string]any{"event": "connected", "server": nc.ConnectedServerVersion()})
	}

	var base int64
	if credit != nil {
		base = credit.value.Load()
	}
	stalls, stallNs := int64(0), int64(0)
	// publish sends up to want pushes before the deadline, keeping the window; returns how many it sent.
	var sent int64
	publish := func(want int64, deadline time.Time, perSecond float64) (int64, error) {
		var k int64
		start := time.Now()
		for want <= 0 || k < want {
			if perSecond > 0 {
				// Paced: publish what is due by now, flush it, then wait for the next millisecond.
				if due := int64(time.Since(start).Seconds() * perSecond); k >= due {
					if err := flush(); err != nil {
						return k, err
					}
					if time.Now().After(deadline) {
						break
					}
					time.Sleep(time.Millisecond)
					continue
				}
			}
			if k&255 == 0 || perSecond > 0 {
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
			stampNow()
			if err := send(subjects[rng.IntN(len(subjects))]); err != nil {
				return k, fmt.Errorf("publish: %w", err)
			}
			k++
			sent++
		}
		return k, flush()
	}

	if *warmup > 0 {
		t0 := time.Now()
		if _, err := publish(*warmup, t0.Add(30*time.Second), 0); err != nil {
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
	n, err := publish(*count, t0.Add(*duration), *rate)
	elapsed := time.Since(t0)
	ru1 := rusage()
	if err != nil {
		return err
	}
	emit(map[string]any{
		"event": "done", "published": n, "elapsedMs": elapsed.Milliseconds(),
		"perSecond": float64(n) / elapsed.Seconds(), "stalls": stalls, "stallMs": stallNs / 1e6,
		"cpuUserUs": ru1[0] - ru0[0], "cpuSystemUs": ru1[1] - ru0[1], "size": *size, "users": *users,
		"outMsgs": outMsgs(), "rate": *rate,
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
