package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// centrifugoAPI publishes through Centrifugo's HTTP server API in batches (POST <base>/batch with
// {"commands":[{"publish":{...}}, ...]}), the way a backend feeds its memory broker. A batch goes
// out when it holds max commands (500 by default) or on flush (the paced publisher flushes every
// millisecond). Broadcasts go one per request (max 1), as a backend sends them one by one.
type centrifugoAPI struct {
	url, key  string
	max       int
	client    *http.Client
	body      []byte
	pending   int
	published uint64
}

func newCentrifugoAPI(base, key string, max int) *centrifugoAPI {
	return &centrifugoAPI{url: base + "/batch", key: key, max: max, client: &http.Client{Timeout: 30 * time.Second}}
}

func (a *centrifugoAPI) add(channel string, data []byte) error {
	if a.pending == 0 {
		a.body = append(a.body[:0], `{"commands":[`...)
	} else {
		a.body = append(a.body, ',')
	}
	a.body = append(a.body, `{"publish":{"channel":`...)
	a.body = strconv.AppendQuote(a.body, channel)
	a.body = append(a.body, `,"data":`...)
	a.body = append(a.body, data...) // already a JSON string
	a.body = append(a.body, `}}`...)
	a.pending++
	if a.pending >= a.max {
		return a.flush()
	}
	return nil
}

func (a *centrifugoAPI) flush() error {
	if a.pending == 0 {
		return nil
	}
	a.body = append(a.body, `]}`...)
	n := a.pending
	a.pending = 0
	req, err := http.NewRequest(http.MethodPost, a.url, bytes.NewReader(a.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", a.key)
	res, err := a.client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("centrifugo api: HTTP %d %s", res.StatusCode, body[:min(len(body), 200)])
	}
	if bytes.Contains(body, []byte(`"error"`)) {
		return fmt.Errorf("centrifugo api: %s", body[:min(len(body), 300)])
	}
	a.published += uint64(n)
	return nil
}
