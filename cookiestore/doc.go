// Package cookiestore is a cookie storage, the equivalent of Apple's
// HTTPCookieStorage, usable on its own or as a session's cookie store.
//
// A Store keeps cookies received in responses and produces the Cookie
// header for requests. It parses Set-Cookie lines and matches cookies with
// its own implementation of RFC 6265, as revised by
// draft-ietf-httpbis-rfc6265bis, and not with net/http's parser, which
// gets many of the public conformance cases wrong. It satisfies
// http.CookieJar, offers Apple's API (AllCookies, Cookies, SetCookie,
// SetCookiesForURL, DeleteCookie, RemoveCookies, SortedCookies, an
// AcceptPolicy) and speaks *http.Cookie at its boundary. Cookies read back
// from a Store follow Apple's convention: Domain is the host for a
// host-only cookie and ".example.com" for a domain cookie; Expires is zero
// for a session cookie.
//
// # Persistence
//
// With Options.Path, persistent cookies (those with Expires or Max-Age)
// live in a SQLite database (WAL mode, busy_timeout 5 s) that several
// processes may share. Every change is an upsert or delete of the rows
// concerned in one transaction, so processes never overwrite each other's
// unrelated cookies. Every call first asks SQLite whether another process
// committed (PRAGMA data_version, a few microseconds) and, if so, reads
// only the rows and deletions stamped since it last looked. Session
// cookies are never written to disk. Last-access times are kept in memory
// and written by Flush and Close.
//
// The database file, SQLite's files beside it (-wal, -shm, -journal) and
// any copy the store keeps are owner-only (0600, directories it creates
// 0700) whatever the process's umask.
//
// # Damaged files
//
// Damage costs the damaged data, not the whole store, and never passes
// silently:
//
//   - A row that does not make a valid cookie (a bad domain or path, a
//     value of the wrong type, ...) is skipped and left in the file.
//   - A file that SQLite finds damaged when New opens it (not a database,
//     a failed integrity check, an unreadable page) is renamed, with its
//     -wal and -shm files, to Path+".corrupt-<UTC time>" and kept. A fresh
//     database replaces it, holding every cookie that can still be read
//     from the damaged copy: the table is read from both ends and through
//     its index, so a damaged leaf page costs the cookies on that page
//     (damage to the b-tree's inner pages can cost more).
//
// Either way [Store.Recovered] returns a [*RecoveryError] saying what was
// discarded and where the damaged copy is, and a Warn record goes to
// Options.Logger (slog.Default() when nil). Damage found after New (a file
// another process broke) makes the store's reads fail; Flush reports it.
//
// # Conformance choices
//
// The parser follows rfc6265bis where it departs from RFC 6265, as the
// web-platform-tests copy of the http-state suite does:
//
//   - A Set-Cookie line without "=" is a nameless cookie ("Set-Cookie: foo"
//     stores a cookie with an empty name and value "foo", sent back as
//     "Cookie: foo"); a line with neither name nor value is ignored, and a
//     nameless cookie whose value starts with a cookie prefix (__Secure-,
//     __Host-, __Http-) is rejected. RFC 6265 5.2 step 2 ignored such lines.
//   - A line with a control character other than HTAB is ignored; name
//     plus value over 4096 bytes rejects the cookie; an attribute value
//     over 1024 bytes is ignored.
//   - Expires and Max-Age are clamped to 400 days ahead. Max-Age must be
//     digits with an optional leading "-"; 0 or less deletes.
//   - An empty Domain attribute is ignored (it does not cancel an earlier
//     one); a non-ASCII Domain rejects the cookie, and so does a non-ASCII
//     Path (a URL path is ASCII: such a cookie could never be sent).
//   - Cookie prefixes __Secure- and __Host- are checked case-insensitively,
//     and __Host- needs an explicit "Path=/" (a default path of "/" is not
//     enough, as in browsers); __Http- and __Host-Http- cookies also need
//     Secure and HttpOnly (the web-platform-tests check these newer
//     prefixes); SameSite=None requires Secure; a non-secure origin can
//     neither set a Secure cookie nor shadow one ("leave secure cookies
//     alone").
//   - A host-only cookie and a domain cookie with the same name, domain
//     and path are distinct cookies, as in browsers.
//
// Other decisions:
//
//   - Secure origins are https and wss only. http://localhost and loopback
//     addresses are not treated as "potentially trustworthy", so the
//     conformance cases for Secure over http behave the same on loopback.
//   - Public suffixes come from golang.org/x/net/publicsuffix, PRIVATE
//     section included, as browsers use it: from foo.github.io a cookie
//     cannot be set for Domain=github.io. An unlisted single label such as
//     "localhost" counts as a public suffix, so its cookies are host-only.
//   - Host names are canonicalised as RFC 6265 5.1.2 asks: lower case,
//     internationalised names converted to punycode (IDNA's lookup
//     profile, the form net/http sends), so "bücher.example" and
//     "xn--bcher-kva.example" are one host and cookies read back carry
//     the punycode form.
//   - IP address hosts only get host-only cookies, and only an identical
//     Domain attribute is accepted from them; an IP address is never the
//     Domain of a cookie from a host name.
//   - Paths are compared as they appear on the wire (url.URL.EscapedPath).
//   - SameSite and HttpOnly are parsed, stored and reported, not enforced:
//     an HTTP client has no browsing context to decide same-site requests,
//     and every API here is an HTTP API.
//   - The Partitioned attribute (CHIPS) is not part of rfc6265bis and is
//     ignored: the store has no partitions, there being no top-level site,
//     so such a cookie is kept and sent like any other, as by a browser
//     with partitioning off.
//   - OnlyFromMainDocumentDomain accepts a cookie when the request host
//     domain-matches the registrable domain (eTLD+1) of the main document
//     URL; a nil main document URL accepts.
//   - Limits: at most 180 cookies per registrable domain and 3300 in all
//     by default (Chromium's numbers); over a limit, expired cookies go
//     first, then the least recently accessed, and over a domain's limit
//     non-secure cookies before Secure ones (rfc6265bis 5.7).
//
// # Concurrency
//
// A Store is safe for concurrent use by multiple goroutines; a file-backed
// one also with other processes using the same file.
package cookiestore
