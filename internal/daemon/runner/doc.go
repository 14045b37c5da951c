//go:build unix

// Package runner is urlsessiond's transfer engine: a server.Runner that
// runs every job with one ordinary urlsession.Session, so that the
// configuration's cookies, cache, credential storage (without interactive
// challenges: a challenge gets default handling), proxies and App
// Transport Security apply to background transfers as they do in the app.
//
// # Downloads
//
// A download job runs a DownloadTask, or a task of
// DownloadTaskWithResumeData when the job has resume data. Once the body
// is complete the file is synced and renamed to the job's File (copied
// into a temporary file beside it first when the two are on different
// file systems), and the directory synced: the file appears there whole
// or not at all. A job with a Destination is then moved there the same
// way (renamed, or copied to a temporary file in Destination's directory
// and renamed), and its result names Destination; a move that fails is a
// permanent -3005 (cannot move file) that leaves the complete body in
// File. A response the daemon retries (429, 503) is not handed
// over. A download completed by a resumption (after a checkpoint, a stop
// or a failure) reports status 200, not the 206 of its last request,
// unless the job's own request asked for a range: the file holds the
// whole resource.
//
// Options.NoSyncDownloads drops the syncs (and the early write-back of
// partial files, see below): a completed file is renamed into place
// unsynced and reported complete at once. It is still whole or absent
// while the system runs, and a kill of the daemon loses nothing, but a
// power loss or kernel crash may damage a file already reported
// complete. It is for disks slower than the network, where the sync is
// what a download waits for.
//
// Partial files of resume data live in Options.PartialDir, one per job
// (<job>.partial): the runner moves a partial file there (keeping its
// modification time, which resume data records) whenever it receives
// resume data naming another place, so that a partial file outlives the
// session's temporary directory, the daemon and a reboot.
//
// # Checkpoints and kill -9
//
// A download task gives resume data only by stopping. While a resumable
// download runs, the runner therefore stops it into resume data once,
// as soon as Options.CheckpointBytes (1 MiB) arrived, and continues it
// with a range request from a task made from that data, which appends
// to the job's own partial file in PartialDir. From then on it
// checkpoints without stopping: each time the partial file holds
// CheckpointBytes more (looked at on every DidWriteData and every
// millisecond), but at most once per 10 ms (on a fast link 1 MiB comes
// in under a millisecond, and a checkpoint each time would cost a
// quarter of the throughput), it makes resume data for the file's
// current length (the first resume data with the new size, the SHA-256
// of the 64 KiB before it, and the time) and writes it to the job's checkpoint file,
// <job>.checkpoint beside the partial file, in one unsynced write. The
// same data goes to the daemon as a Progress checkpoint, which stores it
// with the job at most once per progress interval (a durable SQLite
// commit each). A task that cannot append (a 200 to its range request:
// the resource changed) is stopped into resume data again, at most once
// per Options.CheckpointInterval (5 s). While the task appends (and
// completed downloads are synced), the kernel is asked to write the
// partial file's bytes to disk as they
// arrive (sync_file_range on Linux, from a goroutine of its own, so that
// no checkpoint waits for the disk), which leaves little for the sync at
// completion. A run starts from the checkpoint
// file's data instead of the stored data when it continues the same
// download (same partial file, URL and validators) further on.
//
// What a kill -9 of the daemon loses: the session writes what it
// receives to the partial file at least every 128 KiB and 100 ms, and
// the file's bytes are in the kernel's page cache, which outlives the
// process. A checkpoint file written while the task appended records the
// kernel's boot ID (Linux); when the next daemon finds it written in the
// running boot, and the partial file's 64 KiB before the checkpoint's
// length still hash as recorded, it continues from the end of the
// partial file, not from the checkpoint: what the killed daemon had
// written is not fetched again, however far its last checkpoint lagged
// (a checkpoint is made when the runner's goroutine gets to run, which a
// busy machine delays by tens of milliseconds). Otherwise (another boot,
// no boot ID, or a file that holds the whole body) it continues from the
// last checkpoint, after cutting the partial file back to the
// checkpoint's length (truncated, once the 64 KiB before that length
// still hash as recorded; otherwise the download starts over). What the
// daemon's socket had received and not yet handed to the session is
// fetched again. The receive buffer bounds it: by default (Linux) each
// connection's buffer is sized to its path once the connection is up,
// its smoothed round-trip time (TCP_INFO, from the handshake) times 10
// Gbit/s and at least 256 KiB, so that a loopback or LAN connection
// holds at most about twice that (the kernel doubles SO_RCVBUF for its
// bookkeeping) and still keeps a window as large as its bandwidth-delay
// product; a connection whose product exceeds net.ipv4.tcp_rmem's
// maximum or net.core.rmem_max (a WAN path: tens of ms at 10 Gbit/s)
// keeps the kernel's autotuning, and with it what the kernel lets the
// buffer grow to. Options.ReceiveBuffer sets a fixed buffer instead, or
// keeps autotuning on every path (negative). A power loss or kernel
// crash is another matter (and a new boot): neither the partial file
// nor the checkpoint file is synced while the download runs, so both may
// come back shorter, older or (on file systems that do not order data
// before sizes) with zeros. A checkpoint file that fails its checksum is
// ignored for the stored resume data (synced at each commit); a partial
// file shorter than its resume data, or whose bytes before the recorded
// length differ, makes the download start over. Only a completed download
// is synced (see Downloads), unless Options.NoSyncDownloads. A download
// that cannot be resumed (no strong validator, no byte ranges, a content
// coding) is never checkpointed and starts over after a kill.
//
// Checkpoint files whose partial file is gone are removed when the
// runner starts.
//
// Resume data that no longer matches its partial file (or is not
// resume data) starts the transfer over from the job's request, within
// the same run: the daemon's jobs never fail on stale resume data.
//
// # Uploads
//
// An upload job runs UploadTaskFromFile on the job's File, or
// UploadTaskWithResumeData when the job has resume data (servers that
// offer resumable uploads). The response body is discarded: the job's
// status code is its result.
//
// # Errors
//
// A failure becomes a server.TransferError with the failure's URLError
// code. Permanent (the job fails at once): a bad or unsupported URL, too
// many redirects, a redirect to nowhere, authentication that was refused
// or is required, ATS refusals, certificate rejections, a missing or
// unreadable or changed upload file, a download destination whose
// directory is missing or not writable (-3005). Every other failure (the network,
// timeouts, a bad server response, a full disk) is transient and retried
// by the daemon. A 429 Too Many Requests or 503 Service Unavailable
// response is transient too, with the server's Retry-After (seconds or an
// HTTP date); any other status completes the job with that status, as
// Apple's sessions do.
package runner
