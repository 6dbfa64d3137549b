package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type target struct {
	addr [4]byte
	port int
	host string // Host header
	path string // path, with any query of the URL
}

type connectConfig struct {
	targets        []target
	n              int
	userPrefix     string
	sessionPrefix  string
	clientPrefix   string
	secret         []byte
	raw            bool
	subprotocol    string
	tokenIn        string
	extraClaims    map[string]any
	tokenTTL       time.Duration
	sources        [][4]byte
	loops          int
	inflight       int
	connectTimeout time.Duration
	maxDuration    time.Duration
	reportEvery    time.Duration
	creditSocket   string
	proto          string // mesh, raw, centrifugo, socketio
	churnRate      float64
	churnFor       time.Duration
	newSigner      func() (signer, error) // one per loop: an HMAC state is not shared between threads
}

// Connection states. A socket counts as up at stOpen: after the welcome frame in authenticated
// mode (the edge sends it once the connection is fully subscribed), after the 101 in raw mode.
const (
	stConnecting uint8 = iota + 1
	stHandshake
	stWelcome
	stOpen
	stSioConnect // socketio: namespace CONNECT sent, waiting for its answer
)

// conn is everything kept per socket: a few words, plus pend only while a frame is split across reads.
type conn struct {
	fd       int32
	state    uint8
	user     int32
	tgt      uint8
	deadline int64 // unix ns; only before stOpen
	skip     int   // payload bytes of an oversized frame still to discard
	t0       int64 // unix ns when the upgrade request was written (connect-time histogram)
	pend     []byte
}

type counters struct {
	opened       atomic.Int64 // reached stOpen
	failed       atomic.Int64 // never reached stOpen
	closed       atomic.Int64 // closed after stOpen
	pushes       atomic.Int64 // binary frames with opcode 0x01
	pushBytes    atomic.Int64
	otherBinary  atomic.Int64
	texts        atomic.Int64 // text frames other than the welcome
	pings        atomic.Int64
	handshakeRcv atomic.Int64 // 101 responses
	churned      atomic.Int64 // closed on purpose by -churn-rate (and reopened)

	connectHist  hist         // upgrade request written -> welcome (or protocol equivalent)
	pushHist     hist         // publish timestamp in the payload -> receipt
	markNs       atomic.Int64 // set by the "mark" command
	sinceMark    atomic.Int64 // sockets closed (after open) since the mark
	lastCloseNs  atomic.Int64 // when the last of them closed
	churnStartNs atomic.Int64 // 0 until ready

	mu        sync.Mutex
	failures  map[string]int64  // reason -> count, for sockets that never opened
	closes    map[string]int64  // reason -> count, for sockets closed after opening
	samples   map[string]string // reason -> first response/frame seen with it
	firstText string
}

func (c *counters) fail(reason, sample string) {
	c.failed.Add(1)
	c.mu.Lock()
	c.failures[reason]++
	if _, ok := c.samples[reason]; !ok && sample != "" {
		c.samples[reason] = sample
	}
	c.mu.Unlock()
}

func (c *counters) close(reason string) {
	c.closed.Add(1)
	c.mu.Lock()
	c.closes[reason]++
	c.mu.Unlock()
}

func parseTargets(list string) ([]target, error) {
	var out []target
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("url %q: %w", s, err)
		}
		if u.Scheme != "ws" {
			return nil, fmt.Errorf("url %q: only ws:// is supported", s)
		}
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() == "localhost" {
			ip = net.IPv4(127, 0, 0, 1)
		}
		if ip == nil || ip.To4() == nil || ip.To4()[0] != 127 {
			return nil, fmt.Errorf("url %q: host must be a loopback IPv4 address (127.0.0.0/8)", s)
		}
		port, err := strconv.Atoi(u.Port())
		if err != nil || port <= 0 {
			return nil, fmt.Errorf("url %q: needs an explicit port", s)
		}
		var t target
		copy(t.addr[:], ip.To4())
		t.port = port
		t.host = u.Host
		t.path = u.EscapedPath()
		if t.path == "" {
			t.path = "/"
		}
		if u.RawQuery != "" {
			t.path += "?" + u.RawQuery
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, errors.New("no -url given")
	}
	return out, nil
}

func runConnect(args []string) error {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	urls := fs.String("url", "", "comma-separated ws:// URLs; users are split over them in contiguous blocks")
	n := fs.Int("n", 1000, "number of sockets, one per user u0..u(n-1)")
	offset := fs.Int("offset", 0, "first user index")
	userPrefix := fs.String("user-prefix", "u", "user id prefix (sub claim)")
	sessionPrefix := fs.String("session-prefix", "s", "session id prefix (jti claim)")
	clientPrefix := fs.String("client-prefix", "c", "client id prefix (?client=); empty to omit")
	secret := fs.String("secret", "", "HS256 secret; tokens are minted per socket")
	raw := fs.Bool("raw", false, "plain WebSocket: no token, no welcome expected (baseline server)")
	subprotocol := fs.String("subprotocol", "session-mesh.v1", "Sec-WebSocket-Protocol; empty to omit")
	tokenIn := fs.String("token-in", "header", "where the token goes: header (Authorization: Bearer) or query (?token=)")
	claims := fs.String("claims", "", "extra JWT claims as a JSON object")
	ttl := fs.Duration("token-ttl", time.Hour, "token lifetime (exp - iat)")
	sources := fs.Int("sources", 1, "spread sockets over source addresses 127.0.0.1..127.0.0.<sources>")
	loops := fs.Int("loops", 1, "epoll loops (OS threads)")
	inflight := fs.Int("inflight", 256, "connection attempts in flight per loop")
	connectTimeout := fs.Duration("connect-timeout", 15*time.Second, "per-socket limit to reach open")
	maxDuration := fs.Duration("max-duration", 10*time.Minute, "exit after this long whatever happens")
	reportEvery := fs.Duration("report-every", time.Second, "period of stats lines after ready")
	creditSocket := fs.String("credit-socket", "", "unix socket path: stream the push count (u64 BE) to publishers for flow control")
	proto := fs.String("proto", "mesh", "protocol adapter: mesh, raw, centrifugo (JSON connect command), socketio (engine.io v4 + namespace connect)")
	alg := fs.String("alg", "HS256", "token algorithm: HS256 (-secret) or ES256 (-key-file, a PKCS#8 PEM P-256 private key)")
	keyFile := fs.String("key-file", "", "ES256 private key (PEM)")
	churnRate := fs.Float64("churn-rate", 0, "after ready: close this many random open sockets per second and reconnect each at once")
	churnFor := fs.Duration("churn-for", 0, "how long -churn-rate runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	targets, err := parseTargets(*urls)
	if err != nil {
		return err
	}
	if *raw {
		*proto = "raw"
	}
	switch *proto {
	case "mesh", "raw", "centrifugo", "socketio":
	default:
		return fmt.Errorf("-proto %q: want mesh, raw, centrifugo or socketio", *proto)
	}
	*raw = *proto == "raw"
	mkSigner := func() (signer, error) { return newSigner(*alg, []byte(*secret), *keyFile) }
	if !*raw {
		if _, err := mkSigner(); err != nil {
			return err
		}
	}
	if *tokenIn != "header" && *tokenIn != "query" {
		return errors.New("-token-in must be header or query")
	}
	if *sources < 1 || *sources > 250 || *loops < 1 || *n < 1 || *inflight < 1 {
		return errors.New("-sources 1..250, -loops >= 1, -n >= 1, -inflight >= 1")
	}
	cfg := connectConfig{
		targets: targets, n: *n, userPrefix: *userPrefix, sessionPrefix: *sessionPrefix, clientPrefix: *clientPrefix,
		secret: []byte(*secret), raw: *raw, subprotocol: *subprotocol, tokenIn: *tokenIn, tokenTTL: *ttl,
		loops: *loops, inflight: *inflight, connectTimeout: *connectTimeout, maxDuration: *maxDuration,
		reportEvery: *reportEvery, creditSocket: *creditSocket, proto: *proto, churnRate: *churnRate, churnFor: *churnFor,
		newSigner: mkSigner,
	}
	if *claims != "" {
		if err := json.Unmarshal([]byte(*claims), &cfg.extraClaims); err != nil {
			return fmt.Errorf("-claims: %w", err)
		}
	}
	for i := 1; i <= *sources; i++ {
		cfg.sources = append(cfg.sources, [4]byte{127, 0, 0, byte(i)})
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		if rl.Cur < rl.Max {
			rl.Cur = rl.Max
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		}
		if int(rl.Cur) < *n+64 {
			return fmt.Errorf("open-file limit %d is too low for %d sockets (one process holds at most ~limit-100)", rl.Cur, *n)
		}
	}

	c := &counters{failures: map[string]int64{}, closes: map[string]int64{}, samples: map[string]string{}}
	start := time.Now()
	lps := make([]*loop, cfg.loops)
	for i := range lps {
		l, err := newLoop(&cfg, c, i, *offset)
		if err != nil {
			return err
		}
		lps[i] = l
	}
	var credit *creditServer
	if cfg.creditSocket != "" {
		credit, err = newCreditServer(cfg.creditSocket, &c.pushes)
		if err != nil {
			return err
		}
		defer credit.close()
	}
	for _, l := range lps {
		go l.run()
	}
	go commands(c)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	deadline := time.NewTimer(cfg.maxDuration)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	ready := false
	var nextReport time.Time
	final := func(reason string) {
		s := snapshot(c, start)
		s["event"] = "exit"
		s["reason"] = reason
		emit(s)
	}
	for {
		select {
		case sig := <-stop:
			final(sig.String())
			return nil
		case <-deadline.C:
			final("max-duration")
			return nil
		case now := <-poll.C:
			if !ready && c.opened.Load()+c.failed.Load() >= int64(cfg.n) {
				ready = true
				s := snapshot(c, start)
				s["event"] = "ready"
				s["connectMs"] = time.Since(start).Milliseconds()
				s["connectTime"] = c.connectHist.summary()
				emit(s)
				c.churnStartNs.Store(time.Now().UnixNano())
				nextReport = now.Add(cfg.reportEvery)
			} else if ready && !now.Before(nextReport) {
				s := snapshot(c, start)
				s["event"] = "stats"
				emit(s)
				nextReport = nextReport.Add(cfg.reportEvery)
				if nextReport.Before(now) {
					nextReport = now.Add(cfg.reportEvery)
				}
			}
		}
	}
}

func snapshot(c *counters, start time.Time) map[string]any {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	c.mu.Lock()
	failures := make(map[string]int64, len(c.failures))
	for k, v := range c.failures {
		failures[k] = v
	}
	closes := make(map[string]int64, len(c.closes))
	for k, v := range c.closes {
		closes[k] = v
	}
	samples := make(map[string]string, len(c.samples))
	for k, v := range c.samples {
		samples[k] = v
	}
	firstText := c.firstText
	c.mu.Unlock()
	return map[string]any{
		"t":           time.Since(start).Milliseconds(),
		"open":        c.opened.Load() - c.closed.Load() - c.churned.Load(),
		"churned":     c.churned.Load(),
		"opened":      c.opened.Load(),
		"failed":      c.failed.Load(),
		"closed":      c.closed.Load(),
		"upgraded":    c.handshakeRcv.Load(),
		"pushes":      c.pushes.Load(),
		"pushBytes":   c.pushBytes.Load(),
		"otherBinary": c.otherBinary.Load(),
		"texts":       c.texts.Load(),
		"pings":       c.pings.Load(),
		"failures":    failures,
		"closes":      closes,
		"samples":     samples,
		"firstText":   firstText,
		"rssKiB":      rssKiB(),
		"cpuUserUs":   ru.Utime.Sec*1e6 + ru.Utime.Usec,
		"cpuSystemUs": ru.Stime.Sec*1e6 + ru.Stime.Usec,
	}
}

func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return -1
}

// loop owns an epoll instance and every socket it opened; only its goroutine touches them.
type loop struct {
	cfg      *connectConfig
	c        *counters
	epfd     int
	conns    map[int32]*conn
	users    []int32 // users this loop still has to connect, in order
	next     int
	inflight int
	buf      []byte
	events   []syscall.EpollEvent
	wbuf     []byte
	signer   signer
	churned  int64
	reqBuf   []byte
	lastScan int64
	offset   int
}

const readBufSize = 64 << 10
const maxPending = 4096 // frames up to this size are reassembled; longer ones are classified and skipped

func newLoop(cfg *connectConfig, c *counters, idx, offset int) (*loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	l := &loop{
		cfg: cfg, c: c, epfd: epfd, conns: make(map[int32]*conn),
		buf: make([]byte, readBufSize+maxPending+16), events: make([]syscall.EpollEvent, 256), offset: offset,
	}
	if !cfg.raw {
		sg, err := cfg.newSigner()
		if err != nil {
			return nil, err
		}
		l.signer = sg
	}
	for u := idx; u < cfg.n; u += cfg.loops {
		l.users = append(l.users, int32(offset+u))
	}
	return l, nil
}

func (l *loop) run() {
	runtime.LockOSThread()
	for {
		l.fill()
		timeout := 200
		if l.inflight > 0 {
			timeout = 50
		}
		if l.cfg.churnRate > 0 && l.churnDue() {
			timeout = 5
		}
		n, err := syscall.EpollWait(l.epfd, l.events, timeout)
		if err != nil && err != syscall.EINTR {
			fmt.Fprintln(os.Stderr, "loadgen: epoll_wait:", err)
			return
		}
		for i := 0; i < n; i++ {
			ev := l.events[i]
			if cn := l.conns[ev.Fd]; cn != nil {
				l.handle(cn, ev.Events)
			}
		}
		if l.cfg.churnRate > 0 {
			l.churn()
		}
		if l.inflight > 0 {
			now := time.Now().UnixNano()
			if now-l.lastScan > int64(100*time.Millisecond) {
				l.lastScan = now
				l.expire(now)
			}
		}
	}
}

// fill starts connection attempts until the loop has cfg.inflight of them or no user left.
func (l *loop) fill() {
	for l.inflight < l.cfg.inflight && l.next < len(l.users) {
		u := l.users[l.next]
		l.next++
		l.start(u)
	}
}

func (l *loop) start(u int32) {
	cfg := l.cfg
	// Contiguous blocks: with two URLs, the first half of the users goes to the first.
	ti := (int(u) - l.offset) * len(cfg.targets) / cfg.n
	t := &cfg.targets[ti]
	src := cfg.sources[int(u)%len(cfg.sources)]
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		l.c.fail("socket: "+errName(err), "")
		return
	}
	if len(cfg.sources) > 1 {
		// IP_BIND_ADDRESS_NO_PORT (24): pick the port at connect time, per destination, so a source
		// address is not limited to one ephemeral range shared by every destination.
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, 24, 1)
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: src}); err != nil {
			syscall.Close(fd)
			l.c.fail("bind: "+errName(err), "")
			return
		}
	}
	err = syscall.Connect(fd, &syscall.SockaddrInet4{Addr: t.addr, Port: t.port})
	if err != nil && err != syscall.EINPROGRESS {
		syscall.Close(fd)
		l.c.fail("connect: "+errName(err), "")
		return
	}
	cn := &conn{fd: int32(fd), state: stConnecting, user: u, tgt: uint8(ti), deadline: time.Now().Add(cfg.connectTimeout).UnixNano()}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		syscall.Close(fd)
		l.c.fail("epoll_ctl: "+errName(err), "")
		return
	}
	l.conns[int32(fd)] = cn
	l.inflight++
	if err == nil {
		l.connected(cn, t)
	}
}

func errName(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ECONNREFUSED:
			return "ECONNREFUSED"
		case syscall.ECONNRESET:
			return "ECONNRESET"
		case syscall.EADDRNOTAVAIL:
			return "EADDRNOTAVAIL"
		case syscall.EMFILE:
			return "EMFILE"
		case syscall.ETIMEDOUT:
			return "ETIMEDOUT"
		case syscall.EPIPE:
			return "EPIPE"
		}
	}
	return err.Error()
}

func (l *loop) targetOf(cn *conn) *target {
	return &l.cfg.targets[cn.tgt]
}

// connected writes the upgrade request once the TCP connect completed.
func (l *loop) connected(cn *conn, t *target) {
	cfg := l.cfg
	b := l.reqBuf[:0]
	b = append(b, "GET "...)
	b = append(b, t.path...)
	sep := byte('?')
	if strings.IndexByte(t.path, '?') >= 0 {
		sep = '&'
	}
	if cfg.clientPrefix != "" {
		b = append(b, sep)
		sep = '&'
		b = append(b, "client="...)
		b = append(b, url.QueryEscape(cfg.clientPrefix+strconv.Itoa(int(cn.user)))...)
	}
	var token string
	if cfg.proto == "mesh" {
		token = l.token(cn)
		if cfg.tokenIn == "query" {
			b = append(b, sep)
			b = append(b, "token="...)
			b = append(b, token...)
		}
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, t.host...)
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"...)
	if cfg.subprotocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, cfg.subprotocol...)
		b = append(b, "\r\n"...)
	}
	if token != "" && cfg.tokenIn == "header" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, token...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	l.reqBuf = b
	cn.t0 = time.Now().UnixNano()
	// A fresh socket's send buffer holds a few hundred bytes without blocking.
	if n, err := syscall.Write(int(cn.fd), b); err != nil || n != len(b) {
		reason := "write short"
		if err != nil {
			reason = "write: " + errName(err)
		}
		l.drop(cn, reason, "")
		return
	}
	cn.state = stHandshake
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: cn.fd}
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_MOD, int(cn.fd), &ev)
}

// drop closes a socket; reason is counted as a failure before open, as a close after.
func (l *loop) drop(cn *conn, reason, sample string) {
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, int(cn.fd), nil)
	syscall.Close(int(cn.fd))
	delete(l.conns, cn.fd)
	if cn.state == stOpen {
		if reason == "churn" {
			l.c.churned.Add(1)
		} else {
			l.c.close(reason)
			l.c.sinceMark.Add(1)
			l.c.lastCloseNs.Store(time.Now().UnixNano())
		}
	} else {
		l.inflight--
		l.c.fail(reason, sample)
	}
	cn.pend = nil
}

func (l *loop) open(cn *conn) {
	cn.state = stOpen
	cn.deadline = 0
	l.c.connectHist.record((time.Now().UnixNano() - cn.t0) / 1000)
	l.inflight--
	l.c.opened.Add(1)
}

func (l *loop) expire(now int64) {
	for _, cn := range l.conns {
		if cn.state != stOpen && cn.deadline != 0 && now > cn.deadline {
			reason := map[uint8]string{stConnecting: "timeout: tcp connect", stHandshake: "timeout: upgrade response", stWelcome: "timeout: welcome frame", stSioConnect: "timeout: socket.io connect"}[cn.state]
			l.drop(cn, reason, "")
		}
	}
}

func (l *loop) handle(cn *conn, events uint32) {
	if cn.state == stConnecting {
		if events&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) == 0 {
			return
		}
		soerr, err := syscall.GetsockoptInt(int(cn.fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
		if err != nil || soerr != 0 {
			if err == nil {
				err = syscall.Errno(soerr)
			}
			l.drop(cn, "connect: "+errName(err), "")
			return
		}
		l.connected(cn, l.targetOf(cn))
		return
	}
	if events&(syscall.EPOLLIN|syscall.EPOLLERR|syscall.EPOLLHUP|syscall.EPOLLRDHUP) == 0 {
		return
	}
	k := copy(l.buf, cn.pend)
	n, err := syscall.Read(int(cn.fd), l.buf[k:k+readBufSize])
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return
	}
	if err != nil || n == 0 {
		reason := "eof"
		if err != nil {
			reason = "read: " + errName(err)
		}
		if cn.state == stHandshake {
			reason = "eof before upgrade response"
		} else if cn.state == stWelcome {
			reason = "eof before welcome"
		}
		l.drop(cn, reason, "")
		return
	}
	data := l.buf[:k+n]
	if cn.state == stHandshake {
		end := bytes.Index(data, []byte("\r\n\r\n"))
		if end < 0 {
			if len(data) > maxPending {
				l.drop(cn, "upgrade response too long", string(data[:200]))
				return
			}
			cn.pend = append(cn.pend[:0], data...)
			return
		}
		status := 0
		if sp := bytes.IndexByte(data, ' '); sp > 0 && sp+4 <= len(data) {
			status, _ = strconv.Atoi(string(data[sp+1 : sp+4]))
		}
		if status != 101 {
			sample := string(data[:min(len(data), 600)])
			l.drop(cn, "http "+strconv.Itoa(status), sample)
			return
		}
		l.c.handshakeRcv.Add(1)
		data = data[end+4:]
		switch l.cfg.proto {
		case "raw":
			l.open(cn)
		case "centrifugo":
			// The JSON protocol's connect command carries the token; its reply is the "welcome".
			cmd := append(append([]byte(`{"id":1,"connect":{"token":"`), l.token(cn)...), `","name":"bench"}}`...)
			if !l.sendText(cn, cmd) {
				l.drop(cn, "write connect command", "")
				return
			}
			cn.state = stWelcome
		default: // mesh: the welcome frame; socketio: engine.io's open packet first
			cn.state = stWelcome
		}
	}
	rest, closeReason := l.frames(cn, data)
	if closeReason != "" {
		l.drop(cn, closeReason, "")
		return
	}
	if len(rest) == 0 {
		if cap(cn.pend) > 256 {
			cn.pend = nil
		} else {
			cn.pend = cn.pend[:0]
		}
	} else {
		cn.pend = append(cn.pend[:0], rest...)
	}
}

// frames consumes whole server frames from data and returns the incomplete tail to keep,
// or a reason to close the socket.
func (l *loop) frames(cn *conn, data []byte) ([]byte, string) {
	for {
		if cn.skip > 0 {
			k := min(cn.skip, len(data))
			data = data[k:]
			cn.skip -= k
		}
		if len(data) < 2 {
			return data, ""
		}
		b0, b1 := data[0], data[1]
		if b1&0x80 != 0 {
			return nil, "protocol: masked server frame"
		}
		op := b0 & 0x0f
		plen := int(b1 & 0x7f)
		hl := 2
		if plen == 126 {
			if len(data) < 4 {
				return data, ""
			}
			plen = int(binary.BigEndian.Uint16(data[2:4]))
			hl = 4
		} else if plen == 127 {
			if len(data) < 10 {
				return data, ""
			}
			plen = int(binary.BigEndian.Uint64(data[2:10]))
			hl = 10
		}
		avail := len(data) - hl
		if avail < plen {
			if plen+hl <= maxPending || avail == 0 {
				return data, ""
			}
			// Too long to reassemble: classify on what is here, discard the rest as it arrives.
			if r := l.frame(cn, op, data[hl:], false); r != "" {
				return nil, r
			}
			cn.skip = plen - avail
			return nil, ""
		}
		if r := l.frame(cn, op, data[hl:hl+plen], true); r != "" {
			return nil, r
		}
		data = data[hl+plen:]
	}
}

func (l *loop) frame(cn *conn, op byte, payload []byte, whole bool) string {
	switch op {
	case 2:
		if len(payload) > 0 && payload[0] == 0x01 {
			l.c.pushes.Add(1)
			l.c.pushBytes.Add(int64(len(payload)))
			if i := bytes.Index(payload[:min(len(payload), 64)], stampMark); i >= 0 {
				l.stamp(payload, i)
			}
		} else {
			l.c.otherBinary.Add(1)
		}
	case 1:
		switch l.cfg.proto {
		case "centrifugo":
			return l.centrifugoText(cn, payload)
		case "socketio":
			return l.socketioText(cn, payload)
		}
		if cn.state == stWelcome {
			if bytes.Contains(payload, []byte(`"welcome"`)) {
				l.open(cn)
				return ""
			}
			return "text frame before welcome: " + string(payload[:min(len(payload), 200)])
		}
		l.c.texts.Add(1)
		l.c.mu.Lock()
		if l.c.firstText == "" {
			l.c.firstText = string(payload[:min(len(payload), 300)])
		}
		l.c.mu.Unlock()
	case 8:
		code := "no code"
		if len(payload) >= 2 {
			code = strconv.Itoa(int(binary.BigEndian.Uint16(payload[:2])))
			if len(payload) > 2 {
				code += " " + string(payload[2:min(len(payload), 120)])
			}
		}
		return "close frame " + code
	case 9:
		l.c.pings.Add(1)
		if whole && len(payload) <= 125 {
			l.pong(cn, payload)
		}
	}
	return ""
}

// pong answers a ping; client frames must be masked (a zero mask keeps the payload as is).
func (l *loop) pong(cn *conn, payload []byte) {
	var f [2 + 4 + 125]byte
	f[0] = 0x80 | 0x0a
	f[1] = 0x80 | byte(len(payload))
	n := 6 + copy(f[6:], payload)
	_, _ = syscall.Write(int(cn.fd), f[:n])
}
