package urlcache

import (
	"fmt"
	"hash/crc32"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// BulkFill writes n entries of size-byte bodies straight into the disk
// store in dir, in one transaction (as n calls of StoreCachedResponse
// would leave them, only faster), and returns their URLs. For benchmarks.
func BulkFill(dir string, n, size int) ([]string, error) {
	d, err := openDisk(dir, time.Now, func(string, string, error) {})
	if err != nil {
		return nil, err
	}
	defer d.close()
	for i := range 256 {
		if err := os.MkdirAll(filepath.Join(dir, bodiesDir, fmt.Sprintf("%02x", i)), 0o700); err != nil {
			return nil, err
		}
	}
	tx, err := d.db.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	st, err := tx.Prepare("INSERT INTO entries(key, file, meta, size, stored, access) VALUES (?, ?, ?, ?, ?, ?)")
	if err != nil {
		return nil, err
	}
	defer st.Close()
	urls := make([]string, n)
	body := make([]byte, size)
	now := time.Now()
	for i := range n {
		u := fmt.Sprintf("https://host%d.bench.test/items/%d?v=1", i%97, i)
		urls[i] = u
		body[0], body[1] = byte(i), byte(i>>8)
		name := newName()
		if err := os.WriteFile(d.bodyPath(name), body, 0o600); err != nil {
			return nil, err
		}
		e := &entry{
			URL: u, StatusCode: 200, Proto: "HTTP/1.1", Status: "200 OK",
			Header: http.Header{
				"Content-Type":   {"application/json"},
				"Cache-Control":  {"max-age=3600"},
				"Content-Length": {fmt.Sprint(size)},
				"Etag":           {fmt.Sprintf(`"%x"`, i)},
			},
			Policy: Allowed, RequestTime: now, ResponseTime: now, Stored: now,
			BodyLen: int64(size), BodyCRC: crc32.Checksum(body, castagnoli),
		}
		meta := e.encode()
		if _, err := st.Exec(u, name, meta, int64(len(meta)+size), now.UnixNano(), now.UnixNano()+int64(i)); err != nil {
			return nil, err
		}
	}
	return urls, tx.Commit()
}
