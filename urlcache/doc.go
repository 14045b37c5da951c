// Package urlcache is Apple's URLCache for Go: a store of HTTP responses kept
// in memory and on disk, keyed by request, plus the RFC 9111 decisions a
// private cache makes about them (what may be stored, how long it stays
// fresh, when and how to revalidate it, and what an unsafe request
// invalidates).
//
// It is usable on its own, without a session:
//
//	c, err := urlcache.New(urlcache.Options{
//		MemoryCapacity: 4 << 20,
//		DiskCapacity:   100 << 20,
//		Directory:      filepath.Join(dir, "urlcache"),
//	})
//	...
//	defer c.Close()
//	c.StoreCachedResponse(&urlcache.CachedResponse{Response: resp, Body: body}, req)
//	if cr := c.CachedResponse(req); cr != nil { ... }
//
// # Keys and variants
//
// An entry is keyed by its URL, normalised (scheme and host lower-cased,
// default port and fragment dropped, an empty http path made "/"). Only GET
// requests are stored; a HEAD request may read the entry stored for a GET. A
// URL has at most one entry: storing a response replaces the one stored
// before, whatever its variant. When the response names request fields in
// Vary, the request's values of those fields are stored with it, and a lookup
// matches only when its own values are the same ("Vary: *" never matches).
//
// # Stores
//
// The memory store and the disk store each evict least recently used entries
// to stay within their capacity; an entry's size is its encoded header block
// plus its body. [AllowedInMemoryOnly] entries never reach the disk, and a
// cache with no disk capacity creates no file or directory at all.
//
// The disk store keeps an index in SQLite (WAL mode) and one file per body.
// A body is written to a temporary file, renamed into place, and only then
// indexed, with a checksum of the body and of the header block in the index
// row; a lookup verifies both, so a torn write, a truncated or altered file or
// a garbage row reads as a miss (and is removed), never as wrong data.
// Every change to an index row removes the body file the row named, and a
// new body always gets a new file name, so a Cache keeps a few thousand
// recently used rows in memory and trusts them as long as their body file
// is there. Several Cache values, in one process or several, may use the
// same directory at once. A key the index lacked is remembered as a miss
// for 100 ms, so a request for an uncached URL does not ask the index each
// time: an entry another Cache of the process stores is found at once, one
// another process stores within 100 ms. Opening does not scan the bodies: usage totals live in
// the index, so opening a cache of 100,000 entries takes milliseconds.
//
// # Decisions
//
// [Storable], [Evaluate], [Decide], [ConditionalRequest], [MergeNotModified]
// and [ShouldInvalidate] are pure functions of requests, responses and a
// time: the cache semantics of RFC 9111 for a private cache, which the
// session's pipeline applies and which a program driving its own transport
// can apply too.
package urlcache
