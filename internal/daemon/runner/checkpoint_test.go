//go:build unix

package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/urlsession-go/urlsession/internal/daemon/server"
	"github.com/urlsession-go/urlsession/internal/resume"
)

// TestDownloadLiveCheckpoints: at the default spacing a download is
// stopped once, to move its file into the partial directory, and from
// then on checkpointed every MiB or so without being stopped again: two
// requests in all, and checkpoints at least a MiB apart. Every checkpoint describes a prefix of the body, and
// the checkpoint file holds the last one until the download completes.
func TestDownloadLiveCheckpoints(t *testing.T) {
	const size = 32 << 20
	o := newOrigin(t, size)
	r := newRunner(t, func(o *Options) { o.CheckpointBytes = 0 }) // the default: 1 MiB
	job := downloadJob(t, o.srv.URL+"/f")
	// The first response stops after 2 MiB until the first checkpoint
	// (the stop's) has been reported, so that the download cannot end
	// before the stop.
	first := make(chan struct{})
	var firstOnce sync.Once
	o.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		o.partialBody(w, 2<<20)
		select {
		case <-first:
		case <-r.Context().Done():
		}
		return true
	})

	var mu sync.Mutex
	var offsets []int64
	var bad []string
	progress := func(p server.Progress) {
		if p.ResumeData == nil {
			return
		}
		defer firstOnce.Do(func() { close(first) })
		d, err := resume.Decode(p.ResumeData)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			bad = append(bad, err.Error())
			return
		}
		if d.File != r.partialPath(job) {
			bad = append(bad, "checkpoint names "+d.File)
		}
		// Resuming checks the tail of the partial file cut back to
		// the checkpoint: it must be the body's.
		n := min(d.Offset, resume.TailSize)
		if sum := sha256.Sum256(o.body[d.Offset-n : d.Offset]); d.Tail != hex.EncodeToString(sum[:]) {
			bad = append(bad, "the checkpoint's tail is not the body's")
		}
		offsets = append(offsets, d.Offset)
		cp, _, _, err := r.readCheckpoint(job)
		if err != nil || cp.Offset < d.Offset {
			bad = append(bad, "the checkpoint file lags behind the reported checkpoint")
		}
	}
	res := r.Run(context.Background(), job, progress)
	if res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("Run = %+v", res)
	}
	checkFile(t, job.File, o.body)
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("bad checkpoints: %q", bad)
	}
	if got := o.rangesSeen(); len(got) != 2 || got[0] != "" || got[1] == "" {
		t.Errorf("requests with ranges %q, want the whole body once and one range after the first checkpoint", got)
	}
	// The run's metrics hold both requests, and so every byte received.
	if m := res.Metrics; m == nil || len(m.Transactions) != 2 || m.Transactions[1].Response == nil ||
		m.Transactions[1].Response.StatusCode != http.StatusPartialContent ||
		m.Transactions[0].ResponseBodyBytesReceived+m.Transactions[1].ResponseBodyBytesReceived < size {
		t.Errorf("metrics %+v, want the two requests and at least %d body bytes", m, size)
	}
	// How many live ones reach the daemon depends on the machine's load
	// (a report not yet taken is replaced by the next one; TestDaemon in
	// cmd/urlsessiond waits for one); that they come without stopping
	// the task is what the two requests show.
	if len(offsets) < 1 {
		t.Fatalf("no checkpoint over %d bytes, want the stop's at least", size)
	}
	prev := int64(0)
	for _, off := range offsets {
		if off < prev+1<<20 {
			t.Errorf("checkpoint offsets %v: each must be at least 1 MiB past the one before", offsets)
			break
		}
		prev = off
	}
	if _, err := os.Stat(r.checkpointPath(job)); !os.IsNotExist(err) {
		t.Errorf("checkpoint file left after completion: %v", err)
	}
}

// TestLatestCheckpoint: a run starts from the checkpoint file when it
// continues the stored resume data's download further on, and from the
// stored data otherwise.
func TestLatestCheckpoint(t *testing.T) {
	r := newRunner(t, nil)
	job := downloadJob(t, "http://127.0.0.1:1/f")
	enc := func(d resume.Data) []byte {
		t.Helper()
		b, err := resume.Encode(&d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	base := resume.Data{URL: "http://127.0.0.1:1/f", ETag: `"v1"`, Total: 100 << 20, File: r.partialPath(job)}
	at := func(d resume.Data, n int64) resume.Data {
		d.SetFingerprint(resume.Fingerprint{Size: n, MTime: 1, Tail: "00000000000000000000000000000000000000000000000000000000000000ff"})
		return d
	}
	stored := enc(at(base, 4<<20))
	further := at(base, 9<<20)
	otherTag := further
	otherTag.ETag = `"v2"`
	otherFile := further
	otherFile.File = r.partialPath(job) + ".elsewhere"
	behind := at(base, 2<<20)

	for _, tc := range []struct {
		name       string
		checkpoint []byte // nil: no file
		raw        []byte // written as the file's contents instead
		stored     []byte
		want       int64 // offset of the data chosen, -1 for nil
	}{
		{"no file", nil, nil, stored, 4 << 20},
		{"no file, nothing stored", nil, nil, nil, -1},
		{"further on", enc(further), nil, stored, 9 << 20},
		{"further on, nothing stored", enc(further), nil, nil, 9 << 20},
		{"behind", enc(behind), nil, stored, 4 << 20},
		{"another version", enc(otherTag), nil, stored, 4 << 20},
		{"another partial file", enc(otherFile), nil, stored, 4 << 20},
		{"damaged", nil, append([]byte{0, 0, 0, 9}, []byte("not resume data")...), stored, 4 << 20},
		{"truncated", nil, []byte{0, 0, 1, 0, 'U'}, stored, 4 << 20},
		{"torn", nil, func() []byte {
			b := enc(further)
			b[len(b)/2] ^= 0xff // fails the checksum
			return append([]byte{0, 0, byte(len(b) >> 8), byte(len(b))}, b...)
		}(), stored, 4 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(r.checkpointPath(job))
			switch {
			case tc.checkpoint != nil:
				r.writeCheckpoint(job, tc.checkpoint, "")
			case tc.raw != nil:
				if err := os.WriteFile(r.checkpointPath(job), tc.raw, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, _ := r.latest(job, tc.stored)
			off := int64(-1)
			if got != nil {
				d, err := resume.Decode(got)
				if err != nil {
					t.Fatal(err)
				}
				off = d.Offset
			}
			if off != tc.want {
				t.Errorf("chose data at %d, want %d", off, tc.want)
			}
		})
	}
	// A shorter record written over a longer one is read by its length.
	r.writeCheckpoint(job, enc(at(base, 99<<20+12345)), "boot")
	r.writeCheckpoint(job, enc(at(base, 5)), "")
	if d, _, boot, err := r.readCheckpoint(job); err != nil || d.Offset != 5 || boot != "" {
		t.Errorf("after a shorter record: %+v %q %v", d, boot, err)
	}
	// The boot ID after the data: read back, and dropped (the data
	// kept) when its checksum fails.
	r.writeCheckpoint(job, enc(at(base, 7)), "b1")
	if d, _, boot, err := r.readCheckpoint(job); err != nil || d.Offset != 7 || boot != "b1" {
		t.Errorf("with a boot ID: %+v %q %v", d, boot, err)
	}
	b, err := os.ReadFile(r.checkpointPath(job))
	if err != nil {
		t.Fatal(err)
	}
	b[4+len(enc(at(base, 7)))+1] ^= 1 // in the boot ID
	os.WriteFile(r.checkpointPath(job), b, 0o600)
	if d, _, boot, err := r.readCheckpoint(job); err != nil || d.Offset != 7 || boot != "" {
		t.Errorf("with a damaged boot ID: %+v %q %v", d, boot, err)
	}
	for _, boot := range []string{bootID(), "another"} {
		r.writeCheckpoint(job, enc(at(base, 7)), boot)
		if _, same := r.latest(job, nil); same != (boot != "" && boot == bootID()) {
			t.Errorf("checkpoint of boot %q: latest says same boot %v", boot, same)
		}
	}
}

// TestOrphanCheckpointsRemoved: a new runner removes checkpoint files
// whose partial file is gone and keeps the others.
func TestOrphanCheckpointsRemoved(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.partial", "a.checkpoint", "b.checkpoint"} {
		if err := os.WriteFile(dir+"/"+name, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newRunner(t, func(o *Options) { o.PartialDir = dir })
	if _, err := os.Stat(dir + "/a.checkpoint"); err != nil {
		t.Errorf("a live job's checkpoint was removed: %v", err)
	}
	if _, err := os.Stat(dir + "/b.checkpoint"); !os.IsNotExist(err) {
		t.Errorf("an orphan checkpoint was kept: %v", err)
	}
}

// TestReceiveBuffer: a positive Options.ReceiveBuffer sets SO_RCVBUF on
// the session's connections (Linux reports twice the value set), and
// downloads go through them whole.
func TestReceiveBuffer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := fixedBufferDialer(96<<10, 0).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, _ := c.(*net.TCPConn).SyscallConn()
	var got int
	rc.Control(func(fd uintptr) { got, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) })
	if err != nil || got != 2*96<<10 {
		t.Errorf("SO_RCVBUF %d (%v), want %d", got, err, 2*96<<10)
	}

	o := newOrigin(t, 3<<20+5)
	r := newRunner(t, func(o *Options) { o.ReceiveBuffer = 64 << 10; o.CheckpointBytes = 0 })
	job := downloadJob(t, o.srv.URL+"/f")
	if res := r.Run(context.Background(), job, func(server.Progress) {}); res.Err != nil || res.StatusCode != 200 {
		t.Fatalf("Run = %+v", res)
	}
	checkFile(t, job.File, o.body)
}

// TestDownloadContinuesPastCheckpoint: a run whose checkpoint file was
// written during the running boot continues from the end of the partial
// file that a killed daemon left longer than the checkpoint, when the
// bytes before the checkpoint's length are still the recorded ones; from
// the checkpoint (cutting the file back) when the checkpoint is of
// another boot or has none, or the file already holds the whole body;
// from the start when the bytes differ.
func TestDownloadContinuesPastCheckpoint(t *testing.T) {
	if bootID() == "" {
		t.Skip("no boot ID on this system")
	}
	const size = 3 << 20
	const at, past = 1 << 20, 1<<20 + 300<<10
	o := newOrigin(t, size)
	r := newRunner(t, nil)
	for _, tc := range []struct {
		name      string
		boot      string
		fileLen   int
		damage    bool   // the bytes before the checkpoint's length differ
		wantRange string // of the first request
	}{
		{"same boot", bootID(), past, false, "bytes=" + strconv.Itoa(past) + "-"},
		{"no boot", "", past, false, "bytes=" + strconv.Itoa(at) + "-"},
		{"another boot", "00000000-0000-0000-0000-000000000000", past, false, "bytes=" + strconv.Itoa(at) + "-"},
		{"whole body", bootID(), size, false, "bytes=" + strconv.Itoa(at) + "-"},
		{"bytes differ", bootID(), past, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := downloadJob(t, o.srv.URL+"/f")
			own := r.partialPath(job)
			if err := os.WriteFile(own, o.body[:at], 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(own)
			if err != nil {
				t.Fatal(err)
			}
			fp, err := resume.FingerprintOf(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			d := resume.Data{URL: o.srv.URL + "/f", ETag: `"v1"`, Total: size, File: own}
			d.SetFingerprint(fp)
			cp, err := resume.Encode(&d)
			if err != nil {
				t.Fatal(err)
			}
			r.writeCheckpoint(job, cp, tc.boot)
			// What the killed task appended after the checkpoint.
			f, err = os.OpenFile(own, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(o.body[at:tc.fileLen])
			f.Close()
			if tc.damage {
				f, err := os.OpenFile(own, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt([]byte{^o.body[at-1]}, at-1); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}

			before := len(o.rangesSeen())
			res := r.Run(context.Background(), job, func(server.Progress) {})
			if res.Err != nil || res.StatusCode != 200 {
				t.Fatalf("Run = %+v, want status 200", res)
			}
			checkFile(t, job.File, o.body)
			if got := o.rangesSeen()[before:]; len(got) == 0 || got[0] != tc.wantRange {
				t.Errorf("ranges asked %q, want the first to be %q", got, tc.wantRange)
			}
		})
	}
}
