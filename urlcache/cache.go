package urlcache

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// StoragePolicy says where a cached response may be kept; the values are
// Apple's URLCache.StoragePolicy raw values.
type StoragePolicy int

const (
	// Allowed lets the response be kept in memory and on disk.
	Allowed StoragePolicy = 0
	// AllowedInMemoryOnly keeps the response in memory only; it never
	// reaches the disk.
	AllowedInMemoryOnly StoragePolicy = 1
	// NotAllowed keeps the response nowhere: storing it does nothing.
	NotAllowed StoragePolicy = 2
)

// String returns Apple's name of the policy, such as "allowedInMemoryOnly".
func (p StoragePolicy) String() string {
	switch p {
	case Allowed:
		return "allowed"
	case AllowedInMemoryOnly:
		return "allowedInMemoryOnly"
	case NotAllowed:
		return "notAllowed"
	}
	return "StoragePolicy(" + strconv.Itoa(int(p)) + ")"
}

// CachedResponse is a stored response: Apple's CachedURLResponse.
type CachedResponse struct {
	// Response holds the status, protocol and header fields as received
	// (the body still content-encoded, Content-Length as sent). Its Body is
	// nil; its Request may be nil.
	Response *http.Response
	// Body is the response body as received.
	Body []byte
	// UserInfo is stored with the response and given back with it.
	UserInfo map[string]string
	// StoragePolicy says where the response may be kept.
	StoragePolicy StoragePolicy
	// RequestTime and ResponseTime are when the request that brought the
	// response was sent and when the response arrived, for the age
	// calculation of RFC 9111 section 4.2.3. Zero values stand for the time
	// of storing.
	RequestTime, ResponseTime time.Time
}

// Options configures a Cache. The zero value is a cache that stores nothing.
type Options struct {
	// MemoryCapacity is the memory store's size in bytes; 0 means no
	// memory store.
	MemoryCapacity int64
	// DiskCapacity is the disk store's size in bytes; 0 means no disk
	// store, and then nothing is written to disk.
	DiskCapacity int64
	// Directory is where the disk store lives (created when needed, mode
	// 0700; an existing directory keeps its mode, while everything the
	// store makes in it is its owner's alone). It is required when
	// DiskCapacity is above 0.
	Directory string
	// Now returns the current time, for stored-at dates and recency; nil
	// means time.Now.
	Now func() time.Time
	// Logger receives a Warn record for each piece of unreadable disk
	// data the cache discards (see Cache.Recovered); nil means
	// slog.Default() at the time of the record.
	Logger *slog.Logger
}

// Errors returned by a Cache.
var (
	// ErrNotStorable: the request is not one whose response is stored (not
	// a GET, or no absolute URL), or the CachedResponse has no Response.
	ErrNotStorable = errors.New("urlcache: not a storable request and response")
	// ErrTooLarge: the response is larger than every store that may keep it.
	ErrTooLarge = errors.New("urlcache: response larger than the cache")
	// ErrClosed: the cache was closed.
	ErrClosed = errors.New("urlcache: cache closed")
)

// Cache is a URL cache with a memory store and a disk store. It is safe for
// concurrent use, and several Caches (in one process or in several) may share
// a directory. Each Cache has its own memory store, so an entry that another
// process replaces on disk may still be read from this one's memory until it
// is evicted there.
type Cache struct {
	dir    string
	now    func() time.Time
	logger *slog.Logger

	recMu     sync.Mutex
	recovered []error // of *RecoveryError, at most maxRecovered

	mu      sync.RWMutex // the read lock is enough to look a key up in mem
	mem     *memStore
	disk    *diskStore // nil without a disk store
	diskCap int64
	diskErr error // why the disk store could not be opened
	closed  bool

	// Disk writes of CommitInBackground, run in order by one goroutine
	// that exists while there are some; idle is signalled when none is
	// left.
	bgMu      sync.Mutex
	bgQueue   []func()
	bgRunning bool
	bgIdle    *sync.Cond
}

// inBackground queues f, a disk write, for the background goroutine.
func (c *Cache) inBackground(f func()) {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	c.bgQueue = append(c.bgQueue, f)
	if !c.bgRunning {
		c.bgRunning = true
		go c.runBackground()
	}
}

func (c *Cache) runBackground() {
	c.bgMu.Lock()
	for len(c.bgQueue) > 0 {
		f := c.bgQueue[0]
		c.bgQueue[0] = nil
		c.bgQueue = c.bgQueue[1:]
		c.bgMu.Unlock()
		f()
		c.bgMu.Lock()
	}
	c.bgQueue = nil
	c.bgRunning = false
	if c.bgIdle != nil {
		c.bgIdle.Broadcast()
	}
	c.bgMu.Unlock()
}

// waitBackground returns once every background disk write queued so far
// has been done.
func (c *Cache) waitBackground() {
	c.bgMu.Lock()
	defer c.bgMu.Unlock()
	if c.bgIdle == nil {
		c.bgIdle = sync.NewCond(&c.bgMu)
	}
	for c.bgRunning {
		c.bgIdle.Wait()
	}
}

// New returns a Cache with the options' capacities. With a disk capacity it
// opens (or creates) the disk store in opts.Directory, recovering from an
// index it cannot read by starting it afresh (which Recovered then
// reports); it fails only when the directory cannot be used at all.
func New(opts Options) (*Cache, error) {
	c := &Cache{
		dir:     opts.Directory,
		now:     opts.Now,
		logger:  opts.Logger,
		mem:     newMemStore(max(opts.MemoryCapacity, 0)),
		diskCap: max(opts.DiskCapacity, 0),
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.diskCap > 0 {
		if c.dir == "" {
			return nil, errors.New("urlcache: a disk capacity needs a directory")
		}
		d, err := openDisk(c.dir, c.now, c.noteDiscard)
		if err != nil {
			return nil, err
		}
		c.disk = d
	}
	return c, nil
}

// CachedResponse returns the response stored for req, or nil when there is
// none. GET and HEAD requests read the entry stored for a GET of the URL; an
// entry stored with Vary matches only when req's values of the listed fields
// are those of the request it was stored for. An entry matches only a
// request with the credentials it was fetched with (Authorization,
// Proxy-Authorization and the URL's user information, compared by hash),
// and an entry fetched without any only a request without any. An entry
// that is damaged on disk is removed and reads as a miss. The result
// belongs to the caller.
func (c *Cache) CachedResponse(req *http.Request) *CachedResponse {
	key, ok := requestKey(req)
	if !ok {
		return nil
	}
	cred := credentialTag(key, req)
	// Most lookups are misses in memory: the read lock tells, so that
	// concurrent lookups do not queue for the cache. Only a key the
	// memory store has takes the lock, to mark the entry used.
	c.mu.RLock()
	closed, disk := c.closed, c.disk
	_, inMem := c.mem.byKey[key]
	c.mu.RUnlock()
	if closed {
		return nil
	}
	if inMem {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil
		}
		if me := c.mem.get(key); me != nil {
			// The memory store has the newest entry this Cache stored
			// or read for the URL (the disk store may still have an
			// older one while a background write is pending): it alone
			// decides.
			var cr *CachedResponse
			if me.e.selects(req, &cred) {
				cr = me.e.cachedResponse(me.body)
			}
			c.mu.Unlock()
			return cr
		}
		disk = c.disk
		c.mu.Unlock()
	}
	if disk == nil {
		return nil
	}
	e, body, metaLen := disk.get(key, req, &cred)
	if e == nil {
		return nil
	}
	if e.Policy == Allowed {
		c.mu.Lock()
		if !c.closed && c.mem.capacity > 0 {
			c.mem.put(&memEntry{key: key, e: e, body: body, size: int64(metaLen + len(body))})
			c.mu.Unlock()
			return e.cachedResponse(body)
		}
		c.mu.Unlock()
	}
	return e.cachedResponseOwning(body)
}

// StoreCachedResponse stores cr as the response to req, replacing what was
// stored for req's URL, in the stores its StoragePolicy allows (NotAllowed
// stores nothing and returns nil). Only responses to GET requests are
// stored (ErrNotStorable otherwise). The cache keeps its own copy of cr. It
// returns ErrTooLarge when no store that may keep the response can hold it,
// or the disk store's error.
func (c *Cache) StoreCachedResponse(cr *CachedResponse, req *http.Request) error {
	w := c.NewWriter(req, cr)
	if cr != nil {
		w.Write(cr.Body)
	}
	return w.Commit()
}

// RemoveCachedResponse removes the entry stored for req's URL, whatever
// req's method.
func (c *Cache) RemoveCachedResponse(req *http.Request) {
	c.waitBackground() // a pending write must not bring the entry back
	if req == nil {
		return
	}
	key, ok := Key(req.URL)
	if !ok {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.mem.remove(key)
	disk := c.disk
	c.mu.Unlock()
	if disk != nil {
		disk.remove(key)
	}
}

// RemoveCachedResponses removes the entries stored at or after since.
func (c *Cache) RemoveCachedResponses(since time.Time) {
	c.waitBackground() // a pending write must not bring the entry back
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.mem.removeSince(since)
	disk := c.disk
	c.mu.Unlock()
	if disk != nil {
		disk.removeSince(since)
	}
}

// RemoveAllCachedResponses empties both stores (on disk, also of files no
// entry refers to any more).
func (c *Cache) RemoveAllCachedResponses() {
	c.waitBackground() // a pending write must not bring the entry back
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.mem.removeAll()
	disk := c.disk
	c.mu.Unlock()
	if disk != nil {
		disk.removeAll()
	}
}

// MemoryCapacity returns the memory store's capacity in bytes.
func (c *Cache) MemoryCapacity() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mem.capacity
}

// SetMemoryCapacity changes the memory store's capacity, evicting least
// recently used entries to fit; 0 empties it and stores nothing more there.
func (c *Cache) SetMemoryCapacity(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mem.capacity = max(n, 0)
	c.mem.evict(c.mem.capacity)
}

// DiskCapacity returns the disk store's capacity in bytes.
func (c *Cache) DiskCapacity() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.diskCap
}

// SetDiskCapacity changes the disk store's capacity, evicting least recently
// used entries to fit; 0 empties it. Raising it above 0 on a cache made
// without a disk store opens one in the Options' Directory (if there is
// none, or it cannot be opened, the cache goes on without one; stores then
// report why).
func (c *Cache) SetDiskCapacity(n int64) {
	n = max(n, 0)
	c.mu.Lock()
	c.diskCap = n
	disk := c.disk
	if disk == nil && n > 0 && !c.closed {
		if c.dir == "" {
			c.diskErr = errors.New("urlcache: a disk capacity needs a directory")
		} else if d, err := openDisk(c.dir, c.now, c.noteDiscard); err != nil {
			c.diskErr = err
		} else {
			c.disk, c.diskErr = d, nil
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if disk != nil {
		disk.evict(n)
	}
}

// CurrentMemoryUsage returns the bytes the memory store holds.
func (c *Cache) CurrentMemoryUsage() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mem.used
}

// CurrentDiskUsage returns the bytes the disk store holds (for all the
// processes sharing its directory).
func (c *Cache) CurrentDiskUsage() int64 {
	c.mu.Lock()
	disk := c.disk
	c.mu.Unlock()
	if disk == nil {
		return 0
	}
	return disk.usage()
}

// Flush makes everything stored so far durable: it waits for the disk
// writes of CommitInBackground, then syncs body files and the index to
// stable storage.
func (c *Cache) Flush() error {
	c.waitBackground()
	c.mu.Lock()
	disk, closed := c.disk, c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if disk == nil {
		return nil
	}
	return disk.flush()
}

// Close flushes the disk store and releases it and the memory store. After
// Close, lookups miss and stores return ErrClosed. Close is idempotent.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mem.removeAll()
	disk := c.disk
	c.disk = nil
	c.mu.Unlock()
	c.waitBackground()
	if disk == nil {
		return nil
	}
	return disk.close()
}
