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
// default port, user information and fragment dropped, an empty http path
// made "/"), so no password in a URL reaches the index. Only GET requests
// are stored; a HEAD request may read the entry stored for a GET. A URL has
// at most one entry: storing a response replaces the one stored before,
// whatever its variant or credentials. When the response names request
// fields in Vary, the request's values of those fields are stored with it,
// and a lookup matches only when its own values are the same ("Vary: *"
// never matches): compared as lists, whatever their line breaks and the
// whitespace around their elements, and for Accept-Language,
// Accept-Encoding and Accept-Charset whatever their letter case. An entry
// in the memory store alone decides a lookup of its URL there.
//
// # Credentials
//
// A disk cache is read by every program of a user that shares it, and by a
// server acting for many users, so the cache never gives a response to a
// request with other credentials than the one it was fetched with. An entry
// keeps a SHA-256 of its key and of the request's Authorization and
// Proxy-Authorization values and URL user information (never the values
// themselves); a lookup whose credentials hash differently, or that has
// none where the entry had some or the reverse, misses. [Storable] applies
// RFC 9111 section 3.5 besides: the response to a request with credentials
// is stored only when it says public, must-revalidate or s-maxage.
//
// # Stores
//
// The memory store and the disk store each evict least recently used entries
// to stay within their capacity; an entry's size is its encoded header block
// plus its body. [AllowedInMemoryOnly] entries never reach the disk, and a
// cache with no disk capacity creates no file or directory at all.
//
// The disk store keeps an index in SQLite (WAL mode) and one file per body.
// Every file it creates (the index and its WAL and shared-memory files, the
// bodies) has mode 0600 and every directory mode 0700, whatever the umask;
// files an older version left wider are narrowed when the store opens.
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
// another process stores within 100 ms. Opening does not scan the bodies:
// usage totals live in the index, so opening a cache of 100,000 entries
// takes milliseconds. An index of an older format is emptied when opened.
//
// # Durability
//
// An entry is in the memory store when Commit or CommitInBackground
// returns. Commit writes it to the disk store before it returns;
// CommitInBackground (what a session uses, off the reader's path) writes it
// on a goroutine of the Cache's, in order. Flush and Close wait for those
// writes and sync the files, so an entry is durable once Flush returns. A
// session flushes its cache when it is invalidated, before
// DidBecomeInvalidWithError: a program that invalidates its sessions and
// waits for them loses no entry.
//
// # Damage
//
// What the disk store cannot read it discards, and says so: an index that
// SQLite reports damaged (the store starts empty), and an entry whose header
// block does not decode or whose body file is missing, truncated or altered
// (the entry is removed; the lookup misses). Each discard is logged at
// level Warn to [Options].Logger (slog.Default() when nil) and kept for
// [Cache.Recovered], which returns nil, a [*RecoveryError] naming the file,
// what was discarded and why, or the errors.Join of several. Removing
// what a writer that crashed left behind, or a body file that another
// process removed while replacing its entry, is no damage and is not
// reported.
//
// # Decisions
//
// [Storable], [Evaluate], [Decide], [ConditionalRequest], [MergeNotModified],
// [HeadMatches], [StaleWhileRevalidate], [StaleIfError], [SingleRange] and
// [ShouldInvalidate] are pure functions of requests, responses and a time:
// the cache semantics of RFC 9111 (and RFC 5861's stale-while-revalidate and
// stale-if-error) for the cache of one user, which the session's pipeline
// applies and which a program driving its own transport can apply too.
// They read fields strictly:
//   - Date, Expires and Last-Modified are parsed by [ParseHTTPDate], which
//     takes the three formats of RFC 9110 section 5.6.7 exactly (in any
//     letter case, as browsers do); an Expires that is not one valid date
//     on one line (extra spaces, a one-digit hour, a list, several lines)
//     means already expired, and such a Date or Last-Modified counts as
//     absent;
//   - of an Age list ("7200, 0") the first member counts;
//   - a Cache-Control directive with whitespace around its "=" ("max-age
//     =5") is invalid and ignored.
//
// Connection-specific fields (Connection and the fields it names,
// Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade) are never
// stored: entries are made without them, and [MergeNotModified] neither
// takes them from a 304 nor keeps them (see [RemoveHopByHopFields]). Nor
// are the fields of the proxy a response came through (Proxy-Authenticate,
// Proxy-Authentication-Info, Proxy-Authorization; RFC 9111 section 3.1),
// since entries are not keyed by proxy.
package urlcache
