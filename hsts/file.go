package hsts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// fileState is what a store kept in a file knows of it.
type fileState struct {
	path    string
	changed map[string]*Entry // since the last flush, by host; nil: removed
	cleared bool              // RemoveAll since the last flush
}

// noteLocked records a change of host's entry (nil: removed) for Flush.
func (s *Store) noteLocked(host string, e *Entry) {
	if s.file == nil {
		return
	}
	if s.file.changed == nil {
		s.file.changed = map[string]*Entry{}
	}
	if e != nil {
		c := *e
		e = &c
	}
	s.file.changed[host] = e
}

// maxFile bounds the size of an HSTS file read.
const maxFile = 4 << 20

// Open returns a store kept in the file at path, in curl's HSTS file
// format: the entries it holds now, and Flush writes the store's changes
// back. A file that is not there is an empty store, and Flush makes it
// (and its directory), readable by its owner only.
func Open(path string) (*Store, error) {
	entries, err := readFile(path)
	if err != nil {
		return nil, err
	}
	s := New()
	s.file = &fileState{path: path}
	for _, e := range entries {
		s.entries[e.Host] = e
	}
	return s, nil
}

// readFile reads the entries of the HSTS file at path; none when there is
// no file.
func readFile(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hsts: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("hsts: %s is not a regular file", path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(&limitReader{f, maxFile}); err != nil {
		return nil, fmt.Errorf("hsts: %w", err)
	}
	return ReadEntries(&buf)
}

// limitReader reads at most n bytes, then fails: a file past the bound is
// not taken for a shorter one.
type limitReader struct {
	f io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		if n, _ := l.f.Read(make([]byte, 1)); n > 0 {
			return 0, fmt.Errorf("the file holds more than %d bytes", maxFile)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.f.Read(p)
	l.n -= int64(n)
	return n, err
}

// Flush writes the changes made to a store kept in a file since it was
// opened or last flushed (observations, removals) to the file, on top of
// what the file holds then, so that the changes of other processes using
// the same file are kept; entries that lapsed are left out. It holds an
// advisory lock (a ".lock" file beside it, where the system has flock)
// while it does, and replaces the
// file whole, so that a reader never sees it half written. The store then
// holds the merged entries. For a store in memory it does nothing.
func (s *Store) Flush() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.file
	if st == nil || len(st.changed) == 0 && !st.cleared {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(st.path), 0o700); err != nil {
		return fmt.Errorf("hsts: %w", err)
	}
	unlock, err := lockPath(st.path + ".lock")
	if err != nil {
		return fmt.Errorf("hsts: %w", err)
	}
	defer unlock()
	current, err := readFile(st.path)
	if err != nil {
		return err
	}
	merged := map[string]Entry{}
	if !st.cleared {
		for _, e := range current {
			merged[e.Host] = e
		}
	}
	for h, e := range st.changed {
		if e == nil {
			delete(merged, h)
		} else {
			merged[h] = *e
		}
	}
	now := time.Now()
	live := make([]Entry, 0, len(merged))
	for _, e := range merged {
		if e.live(now) {
			live = append(live, e)
		}
	}
	slices.SortFunc(live, func(a, b Entry) int { return strings.Compare(a.Host, b.Host) })
	if len(live) > MaxEntries {
		live = live[:MaxEntries]
	}
	if err := replaceFile(st.path, live); err != nil {
		return err
	}
	clear(s.entries)
	for _, e := range live {
		s.entries[e.Host] = e
	}
	st.changed, st.cleared = nil, false
	return nil
}

// replaceFile writes entries to a new file beside path and renames it
// over path.
func replaceFile(path string, entries []Entry) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("hsts: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("hsts: %w", err)
	}
	if err := WriteEntries(tmp, entries); err != nil {
		return fmt.Errorf("hsts: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("hsts: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("hsts: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("hsts: %w", err)
	}
	done = true
	return nil
}
