package main

import (
	"os"

	"github.com/urlsession-go/urlsession"
)

// Every file the command writes (-o, -D, -c) is opened the way curl opens
// it, with fopen(name, "wb"): through the path it is given, following
// symbolic links, into FIFOs and devices, truncating an existing file in
// place (same inode, same mode and owner) and creating a missing one with
// mode 0666 less the umask. Nothing is ever renamed over the path and no
// other name is created next to it, so neither a user's file nor a special
// file can be replaced.

// openWrite opens name for writing as curl does; see above. Its error is
// an *urlsession.Error with code ErrCannotCreateFile.
func openWrite(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, &urlsession.Error{Code: urlsession.ErrCannotCreateFile, Err: err}
	}
	return f, nil
}
