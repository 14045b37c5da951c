package main

import (
	"bufio"
	"io"
	"os"
	"path/filepath"

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

// sink is one output of the command: standard output, or a file opened
// with openWrite when the first bytes are written, so that a transfer that
// fails before has not touched it. Writes to standard output are flushed
// at once, so that what arrives is seen at once and the outputs that share
// it keep their order; a file is buffered. Errors are *urlsession.Error:
// ErrCannotCreateFile, ErrCannotWriteToFile, ErrCannotCloseFile.
type sink struct {
	name   string    // the file; "" or "-" for stdout
	mkdirs bool      // --create-dirs: create the file's missing directories
	stdout io.Writer // standard output
	file   *os.File  // the file once opened
	w      *bufio.Writer
}

// toFile reports whether the sink is a file.
func (s *sink) toFile() bool { return s.name != "" && s.name != "-" }

// open opens the sink unless it is open.
func (s *sink) open() error {
	if s.w != nil {
		return nil
	}
	if !s.toFile() {
		s.w = bufio.NewWriterSize(s.stdout, 64<<10)
		return nil
	}
	if s.mkdirs {
		// As curl: directories are created with mode 0750.
		if err := os.MkdirAll(filepath.Dir(s.name), 0o750); err != nil {
			return &urlsession.Error{Code: urlsession.ErrCannotCreateFile, Err: err}
		}
	}
	f, err := openWrite(s.name)
	if err != nil {
		return err
	}
	s.file = f
	s.w = bufio.NewWriterSize(f, 64<<10)
	return nil
}

// Write opens the sink if need be and writes p.
func (s *sink) Write(p []byte) (int, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	n, err := s.w.Write(p)
	if err == nil && s.file == nil {
		err = s.w.Flush()
	}
	if err != nil {
		return n, &urlsession.Error{Code: urlsession.ErrCannotWriteToFile, Err: err}
	}
	return n, nil
}

// close flushes and closes the sink if it was opened. A file keeps what
// was written, whatever the outcome, as curl leaves it.
func (s *sink) close() error {
	if s.w == nil {
		return nil
	}
	err := s.w.Flush()
	if err != nil {
		err = &urlsession.Error{Code: urlsession.ErrCannotWriteToFile, Err: err}
	}
	if s.file != nil {
		if cerr := s.file.Close(); cerr != nil && err == nil {
			err = &urlsession.Error{Code: urlsession.ErrCannotCloseFile, Err: cerr}
		}
		s.file = nil
	}
	s.w = nil
	return err
}
