package main

import (
	"math"
	"sync/atomic"
)

// hist is a lock-free latency histogram in microseconds: 1 µs buckets below 100 µs, then buckets
// 1 % wide (so a percentile is within 1 % of the true value) up to minutes. Written by every epoll
// loop, read and reset by the stdin command goroutine; a reset racing a record loses that sample.
type hist struct {
	b   [histBuckets]atomic.Int64
	n   atomic.Int64
	max atomic.Int64
}

const histBuckets = 2400

var histLogBase = math.Log(1.01)

func histBucket(us int64) int {
	if us < 0 {
		us = 0
	}
	if us < 100 {
		return int(us)
	}
	i := 100 + int(math.Log(float64(us)/100)/histLogBase)
	if i >= histBuckets {
		i = histBuckets - 1
	}
	return i
}

func histValue(i int) float64 {
	if i < 100 {
		return float64(i)
	}
	return 100 * math.Pow(1.01, float64(i-100)+0.5)
}

func (h *hist) record(us int64) {
	h.b[histBucket(us)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

func (h *hist) reset() {
	for i := range h.b {
		h.b[i].Store(0)
	}
	h.n.Store(0)
	h.max.Store(0)
}

// summary: count and p50/p90/p99/p999/max in milliseconds (nil when empty).
func (h *hist) summary() map[string]any {
	var counts [histBuckets]int64
	total := int64(0)
	for i := range h.b {
		counts[i] = h.b[i].Load()
		total += counts[i]
	}
	out := map[string]any{"count": total}
	if total == 0 {
		return out
	}
	for _, q := range []struct {
		name string
		p    float64
	}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"p999", 0.999}} {
		rank := int64(math.Ceil(q.p * float64(total)))
		acc := int64(0)
		for i, c := range counts {
			acc += c
			if acc >= rank {
				out[q.name] = histValue(i) / 1000
				break
			}
		}
	}
	out["max"] = float64(h.max.Load()) / 1000
	return out
}

// stampAt parses the publish timestamp a publisher put in a payload ("~t" + 19 decimal digits of
// Unix nanoseconds) starting at data[i]; ok is false when the 19 digits are not all there.
func stampAt(data []byte, i int) (int64, bool) {
	if i+21 > len(data) {
		return 0, false
	}
	v := int64(0)
	for _, c := range data[i+2 : i+21] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}
