package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/urlsession-go/urlsession"
)

// Every file the command writes (-o, -D, -c) is opened the way curl opens
// it, with fopen(name, "wb"): through the path it is given, following
// symbolic links, into FIFOs and devices, truncating an existing file in
// place (same inode, same mode and owner) and creating a missing one with
// mode 0666 less the umask. Nothing is ever renamed over the path and no
// other name is created next to it (but for the resume data of -C - and
// --retry), so neither a user's file nor a special file can be replaced.
// The one exception is -o or -O naming a file that is not there: the body
// is then downloaded beside it and given its name once complete (see
// download.go), which never replaces anything either.

// openWrite opens name for writing as curl does; see above. Its error is
// an *urlsession.Error with code ErrCannotCreateFile.
func openWrite(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, &urlsession.Error{Code: urlsession.ErrCannotCreateFile, Err: err}
	}
	return f, nil
}

// openMode says how openOutput opens a file.
type openMode int

const (
	openTruncate  openMode = iota // as curl: create or truncate in place
	openAppend                    // -C -: create, or append to what is there
	openExclusive                 // -J: create; an existing name is an error
	openNoClobber                 // --no-clobber: create, else NAME.1 to NAME.100
)

// maxClobberSuffix is the last number --no-clobber tries, as curl.
const maxClobberSuffix = 100

// writeWhole writes text as the whole of the file name, opened as -o opens
// it (through a symbolic link, an existing file truncated in place).
func writeWhole(name, text string) error {
	f, _, err := openOutput(name, openTruncate)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// openOutput opens name for writing as mode says and returns the file and
// the name it opened (another one only with openNoClobber). Whatever the
// mode, it goes through the path as openWrite does, never replacing what is
// there. Its error is an *urlsession.Error with code ErrCannotCreateFile.
func openOutput(name string, mode openMode) (*os.File, string, error) {
	switch mode {
	case openAppend:
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666)
		if err != nil {
			return nil, "", &urlsession.Error{Code: urlsession.ErrCannotCreateFile, Err: err}
		}
		return f, name, nil
	case openExclusive, openNoClobber:
		try := name
		for i := 0; ; i++ {
			f, err := os.OpenFile(try, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
			if err == nil {
				return f, try, nil
			}
			if !errors.Is(err, fs.ErrExist) || mode == openExclusive || i == maxClobberSuffix {
				if errors.Is(err, fs.ErrExist) {
					err = fmt.Errorf("refusing to overwrite %s: %w", try, err)
				}
				return nil, "", &urlsession.Error{Code: urlsession.ErrCannotCreateFile, Err: err}
			}
			try = name + "." + strconv.Itoa(i+1)
		}
	}
	f, err := openWrite(name)
	return f, name, err
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
	mode   openMode  // how the file is opened
	stdout io.Writer // standard output
	file   *os.File  // the file once opened
	// regular: the file opened is a regular file, which a retry can
	// rewrite from its start.
	regular bool
	opened  bool // the sink was opened (and may be closed again since)
	w       *bufio.Writer
}

// toFile reports whether the sink is a file.
func (s *sink) toFile() bool { return s.name != "" && s.name != "-" }

// open opens the sink unless it is open.
func (s *sink) open() error {
	if s.w != nil {
		return nil
	}
	s.opened = true
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
	f, name, err := openOutput(s.name, s.mode)
	if err != nil {
		return err
	}
	s.name, s.file = name, f
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		s.regular = true
	}
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
