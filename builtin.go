package urlsession

import (
	"github.com/urlsession-go/urlsession/internal/pipeline"
	builtin "github.com/urlsession-go/urlsession/internal/protocols"
)

// builtinProtocols are the protocols of the schemes a session loads besides
// http and https, after Configuration.Protocols: data (RFC 2397, processed
// as the WHATWG Fetch standard does) and file (local files, with byte
// ranges).
func builtinProtocols() []pipeline.Protocol {
	return []pipeline.Protocol{builtin.Data{}, builtin.File{}}
}
