package main

import (
	"encoding/binary"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// creditServer streams the received-push count to publishers over a unix socket, so a publisher
// can keep (published - received) under a window. Without it a publisher on the same two cores
// outruns the edges, the NATS server queues the difference and finally cuts the edges off as
// slow consumers: the benchmark would measure an overload, not a throughput.
type creditServer struct {
	ln     net.Listener
	count  *atomic.Int64
	mu     sync.Mutex
	conns  []net.Conn
	closed atomic.Bool
}

func newCreditServer(path string, count *atomic.Int64) (*creditServer, error) {
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	s := &creditServer{ln: ln, count: count}
	go s.accept()
	go s.pump()
	return s, nil
}

func (s *creditServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
	}
}

// pump sends the count every millisecond while it changes (and once a second regardless).
func (s *creditServer) pump() {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	last := int64(-1)
	var b [8]byte
	idle := 0
	for range t.C {
		if s.closed.Load() {
			return
		}
		v := s.count.Load()
		idle++
		if v == last && idle < 1000 {
			continue
		}
		idle = 0
		last = v
		binary.BigEndian.PutUint64(b[:], uint64(v))
		s.mu.Lock()
		kept := s.conns[:0]
		for _, c := range s.conns {
			_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := c.Write(b[:]); err == nil {
				kept = append(kept, c)
			} else {
				c.Close()
			}
		}
		s.conns = kept
		s.mu.Unlock()
	}
}

func (s *creditServer) close() {
	s.closed.Store(true)
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// creditClient follows a creditServer's count.
type creditClient struct {
	value   atomic.Int64
	updated chan struct{}
	err     atomic.Value
}

func dialCredit(path string) (*creditClient, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	cc := &creditClient{updated: make(chan struct{}, 1)}
	cc.value.Store(-1)
	go func() {
		var b [8]byte
		for {
			if _, err := readFull(c, b[:]); err != nil {
				cc.err.Store(err)
				close(cc.updated)
				return
			}
			cc.value.Store(int64(binary.BigEndian.Uint64(b[:])))
			select {
			case cc.updated <- struct{}{}:
			default:
			}
		}
	}()
	return cc, nil
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
