package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Protocol adapters for the peers: what a socket sends after the 101 and how it recognises its
// "welcome" and its pushes. Every push payload a bench publisher sends carries "~t" + 19 digits of
// Unix nanoseconds (the publish time), so a receipt gives an end-to-end latency in any protocol.

var stampMark = []byte("~t")

// stamp records the latency of the push whose timestamp starts at data[i].
func (l *loop) stamp(data []byte, i int) {
	if ts, ok := stampAt(data, i); ok {
		l.c.pushHist.record((time.Now().UnixNano() - ts) / 1000)
	}
}

// token mints this socket's token: sub u<i>, jti s<i>.
func (l *loop) token(cn *conn) string {
	now := time.Now().Unix()
	id := strconv.Itoa(int(cn.user))
	return l.signer.mint(l.cfg.userPrefix+id, l.cfg.sessionPrefix+id, now, now+int64(l.cfg.tokenTTL/time.Second), l.cfg.extraClaims)
}

// sendText writes one masked text frame (a zero mask: the payload goes as it is).
func (l *loop) sendText(cn *conn, payload []byte) bool {
	b := l.wbuf[:0]
	b = append(b, 0x81)
	if n := len(payload); n < 126 {
		b = append(b, 0x80|byte(n))
	} else {
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	}
	b = append(b, 0, 0, 0, 0)
	b = append(b, payload...)
	l.wbuf = b
	n, err := syscall.Write(int(cn.fd), b)
	return err == nil && n == len(b)
}

// countStamped counts the pushes in a text frame (several may share one, newline-separated in
// Centrifugo's JSON protocol) and records their latencies.
func (l *loop) countStamped(payload []byte) int {
	k := 0
	for i := 0; ; {
		j := bytes.Index(payload[i:], stampMark)
		if j < 0 {
			break
		}
		l.stamp(payload, i+j)
		k++
		i += j + 2
	}
	if k > 0 {
		l.c.pushes.Add(int64(k))
		l.c.pushBytes.Add(int64(len(payload)))
	}
	return k
}

// Centrifugo's JSON protocol: {"id":1,"connect":{...}} answers the connect command; {} is its
// application-level ping (answered with {}); pushes are {"push":{"channel":...,"pub":{"data":...}}}.
func (l *loop) centrifugoText(cn *conn, payload []byte) string {
	if cn.state == stWelcome {
		if bytes.Contains(payload, []byte(`"error"`)) {
			return "centrifugo connect error: " + string(payload[:min(len(payload), 200)])
		}
		if bytes.Contains(payload, []byte(`"connect"`)) {
			l.open(cn)
			l.countStamped(payload)
			return ""
		}
		return "text frame before connect reply: " + string(payload[:min(len(payload), 200)])
	}
	if len(payload) == 2 && payload[0] == '{' && payload[1] == '}' {
		l.c.pings.Add(1)
		l.sendText(cn, payload)
		return ""
	}
	// Under load Centrifugo batches replies into one frame, newline-separated: a ping ({}) can share
	// a frame with pushes, and an unanswered ping closes the socket (3012 no pong).
	if bytes.HasPrefix(payload, []byte("{}\n")) || bytes.Contains(payload, []byte("\n{}")) {
		l.c.pings.Add(1)
		l.sendText(cn, []byte("{}"))
	}
	if l.countStamped(payload) == 0 {
		l.c.texts.Add(1)
		if bytes.Contains(payload, []byte(`"disconnect"`)) {
			return "centrifugo disconnect push"
		}
	}
	return ""
}

// Socket.IO over engine.io v4 (websocket only): "0{...}" opens the engine, "40{auth}" connects the
// default namespace and "40{sid}" answers it ("44" refuses); "2" is the server's ping ("3" answers);
// "42[...]" is an event (a push); "41" is a server-side disconnect of the namespace.
func (l *loop) socketioText(cn *conn, payload []byte) string {
	if len(payload) == 0 {
		return ""
	}
	switch payload[0] {
	case '0':
		if cn.state != stWelcome {
			return ""
		}
		cmd := append(append([]byte(`40{"token":"`), l.token(cn)...), `"}`...)
		if !l.sendText(cn, cmd) {
			return "write namespace connect"
		}
		cn.state = stSioConnect
		return ""
	case '2':
		l.c.pings.Add(1)
		l.sendText(cn, []byte{'3'})
		return ""
	case '4':
		if len(payload) < 2 {
			return ""
		}
		switch payload[1] {
		case '0':
			if cn.state == stSioConnect {
				l.open(cn)
			}
			return ""
		case '4':
			return "socket.io connect error: " + string(payload[:min(len(payload), 200)])
		case '1':
			return "socket.io namespace disconnect"
		case '2':
			if l.countStamped(payload) == 0 {
				l.c.texts.Add(1)
			}
			return ""
		}
	case '1':
		return "engine.io close packet"
	}
	l.c.texts.Add(1)
	return ""
}

// churnDue reports whether churn is running (ready, and within -churn-for).
func (l *loop) churnDue() bool {
	s := l.c.churnStartNs.Load()
	return s != 0 && time.Now().UnixNano()-s < int64(l.cfg.churnFor)
}

// churn closes (with a close frame) and reopens as many open sockets as the rate asks by now.
func (l *loop) churn() {
	s := l.c.churnStartNs.Load()
	if s == 0 {
		return
	}
	elapsed := time.Now().UnixNano() - s
	if elapsed > int64(l.cfg.churnFor) {
		elapsed = int64(l.cfg.churnFor)
	}
	due := int64(float64(elapsed)/1e9*l.cfg.churnRate/float64(l.cfg.loops)) - l.churned
	for ; due > 0; due-- {
		var victim *conn
		for _, cn := range l.conns { // map order: a pseudo-random open socket
			if cn.state == stOpen {
				victim = cn
				break
			}
		}
		if victim == nil {
			return
		}
		// Masked close frame, code 1000, then close: the server sees a clean client close.
		_, _ = syscall.Write(int(victim.fd), []byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8})
		u := victim.user
		l.drop(victim, "churn", "")
		l.churned++
		l.start(u)
	}
}

// commands reads the orchestrator's commands on stdin, one per line:
//
//	snap   print {"event":"snap",...} with the push count, the push latency since the last snap
//	       (then reset) and the close count and last close time since the mark
//	mark   start counting closes from now (kill and blacklist propagation)
func commands(c *counters) {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch strings.TrimSpace(in.Text()) {
		case "mark":
			c.sinceMark.Store(0)
			c.lastCloseNs.Store(0)
			c.markNs.Store(time.Now().UnixNano())
			emit(map[string]any{"event": "marked"})
		case "snap":
			lat := c.pushHist.summary()
			c.pushHist.reset()
			out := map[string]any{
				"event": "snap", "pushes": c.pushes.Load(), "latency": lat,
				"open":   c.opened.Load() - c.closed.Load() - c.churned.Load(),
				"closedSinceMark": c.sinceMark.Load(), "churned": c.churned.Load(),
				"connectTime": c.connectHist.summary(), "rssKiB": rssKiB(),
			}
			if last := c.lastCloseNs.Load(); last != 0 && c.markNs.Load() != 0 {
				out["lastCloseMs"] = float64(last-c.markNs.Load()) / 1e6
			}
			emit(out)
		}
	}
}
