package urlcache

import (
	"hash/crc32"
	"net/http"
	"os"
	"time"
)

// Writer stores a response while its body streams: bytes go through Write
// and the entry becomes visible only at Commit, so a body cut short is never
// stored. A Writer is used from one goroutine at a time. It must end with
// Commit or Abort (either one ends it; later calls do nothing), or its
// temporary file stays behind until a cache opened on the directory an hour
// later removes it.
type Writer struct {
	c       *Cache
	key     string
	e       *entry
	refused error // the request or cache refuses the response: nothing is stored
	empty   bool  // the policy stores nothing: Commit succeeds without storing
	done    bool

	n   int64
	crc uint32

	mem      bool // still buffering for the memory store
	memLimit int64
	buf      []byte

	disk      *diskStore // nil once the disk store is out of the question
	diskLimit int64
	diskErr   error // why the disk store was given up
	f         *os.File
}

// NewWriter starts storing cr as the response to req; cr.Body is ignored
// (the body comes through Write). The rules of StoreCachedResponse apply;
// when they refuse the response, the Writer discards what it is given and
// Commit reports why.
func (c *Cache) NewWriter(req *http.Request, cr *CachedResponse) *Writer {
	w := &Writer{c: c}
	if cr == nil || cr.Response == nil || req == nil || (req.Method != "" && req.Method != http.MethodGet) {
		w.refused = ErrNotStorable
		return w
	}
	key, ok := Key(req.URL)
	if !ok {
		w.refused = ErrNotStorable
		return w
	}
	if cr.StoragePolicy != Allowed && cr.StoragePolicy != AllowedInMemoryOnly {
		w.empty = true
		return w
	}
	w.key = key
	w.e = newEntry(key, cr, req, time.Time{})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		w.refused = ErrClosed
		return w
	}
	w.memLimit = c.mem.capacity
	w.mem = w.memLimit > 0
	if cr.StoragePolicy == Allowed && c.diskCap > 0 {
		if c.disk != nil {
			w.disk, w.diskLimit = c.disk, c.diskCap
		} else {
			w.diskErr = c.diskErr
		}
	}
	return w
}

// Write adds p to the body. It never fails: when a store cannot take the
// body (too large, or a disk error) the Writer gives that store up, and
// Commit reports it if no store is left.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done || w.refused != nil || w.empty {
		return len(p), nil
	}
	w.n += int64(len(p))
	w.crc = crc32.Update(w.crc, castagnoli, p)
	if w.mem {
		if int64(len(w.buf))+int64(len(p)) > w.memLimit {
			w.mem, w.buf = false, nil
		} else {
			w.buf = append(w.buf, p...)
		}
	}
	if w.disk != nil {
		if w.n > w.diskLimit {
			w.abortDisk()
			w.disk = nil
			return len(p), nil
		}
		if w.f == nil {
			f, err := w.disk.createTemp()
			if err != nil {
				w.disk, w.diskErr = nil, err
				return len(p), nil
			}
			w.f = f
		}
		if _, err := w.f.Write(p); err != nil {
			w.abortDisk()
			w.disk, w.diskErr = nil, err
		}
	}
	return len(p), nil
}

// Commit stores the response with the body written so far, replacing the
// URL's earlier entry (which is also removed from a store the new one does
// not go to). It returns nil when the response was stored or its storage
// policy stores nothing; ErrNotStorable or ErrClosed when it was refused
// from the start; the error that kept it from the disk store; or ErrTooLarge
// when it fitted no store.
func (w *Writer) Commit() error { return w.commit(false) }

// CommitInBackground stores the response as Commit does, except that the
// disk store is written on a goroutine of the cache's: the memory store has
// the entry when it returns, the disk store some time later, in the order
// entries were committed. Flush and Close wait for those writes. A write
// that fails leaves the entry out of the disk store, as a cache may.
func (w *Writer) CommitInBackground() { w.commit(true) }

func (w *Writer) commit(background bool) error {
	if w.done {
		return nil
	}
	w.done = true
	if w.empty {
		return nil
	}
	if w.refused != nil {
		return w.refused
	}
	e := w.e
	e.BodyLen, e.BodyCRC = w.n, w.crc
	e.Stored = w.c.now()
	if e.ResponseTime.IsZero() {
		e.ResponseTime = e.Stored
	}
	if e.RequestTime.IsZero() {
		e.RequestTime = e.ResponseTime
	}
	meta := e.encode()
	size := int64(len(meta)) + w.n

	c := w.c
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		w.abortDisk()
		return ErrClosed
	}
	stored := false
	if w.mem && size <= c.mem.capacity {
		body := w.buf
		if body == nil {
			body = []byte{}
		}
		c.mem.put(&memEntry{key: w.key, e: e, body: body, size: size})
		stored = true
	} else {
		c.mem.remove(w.key)
	}
	w.buf = nil
	disk, diskCap := c.disk, c.diskCap
	c.mu.Unlock()

	err := w.diskErr
	if w.disk != nil && w.disk == disk && size <= diskCap {
		if background {
			c.inBackground(func() { w.commitDisk(meta, size, diskCap) })
			return nil
		}
		if err = w.commitDisk(meta, size, diskCap); err == nil {
			stored = true
		}
	} else {
		w.abortDisk()
		if disk != nil {
			disk.remove(w.key)
		}
	}
	if err == nil && !stored {
		err = ErrTooLarge
	}
	return err
}

func (w *Writer) commitDisk(meta []byte, size, capacity int64) error {
	if w.f == nil { // an empty body
		f, err := w.disk.createTemp()
		if err != nil {
			return err
		}
		w.f = f
	}
	name := w.f.Name()
	err := w.f.Close()
	w.f = nil
	if err != nil {
		os.Remove(name)
		return err
	}
	return w.disk.put(w.key, w.e, meta, name, size, capacity)
}

func (w *Writer) abortDisk() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.f.Name())
		w.f = nil
	}
}

// Abort discards the body written so far; nothing is stored.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.buf = nil
	w.abortDisk()
}
