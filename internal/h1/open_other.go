//go:build !unix

package h1

// open reports whether c, idle, is still open; without a way to look
// without blocking, it tells only of bytes already buffered.
func (c *conn) open() bool { return c.br.Buffered() == 0 }
