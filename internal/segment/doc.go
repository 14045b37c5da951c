// Package segment runs byte-range downloads: it plans a body of known size
// as ranges, fetches them over concurrent connections written at their
// offsets in one file, resumes each range on its own after a transient
// failure, and limits bandwidth with hierarchical token buckets.
//
// # Rate limits
//
// A [Limiter] is a token bucket of a rate in bytes per second that never
// grants more than a quarter second's worth at once; a task's Limiter can
// hang under its session's, and each grant then takes from both. [NewReader]
// and [NewWriter] apply one to a stream.
//
// # Segmented downloads
//
// [Plan] cuts a body of known length into ranges and returns a [State]; an
// [Executor] runs a State to completion (or to the first permanent error),
// updating it as bytes reach the file, so a State taken at any time, encoded
// with encoding/json and decoded with [ParseState] (which validates it), can
// resume the download later. A download usually starts with a GET carrying
// "Range: bytes=0-": [ParseContentRange] reads the length from its 206, and
// [Config.Initial] lets the Executor go on reading that response as the
// first segment. See [Executor] for retries, Content-Range validation, the
// fall-back to one stream when a server ignores ranges, and the splitting of
// the largest remaining range when a connection falls idle.
//
// Nothing here follows redirects, sends validators or checks digests: the
// caller's Fetch function does the first two (If-Range with a strong
// validator keeps two versions of a resource from being spliced: a changed
// resource then answers 200, which the Executor takes from byte 0), and
// package integrity the third.
package segment
