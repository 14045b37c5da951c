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
// Partial files of resume data live in Options.PartialDir, one per job
// (<job>.partial): the runner moves a partial file there (keeping its
// modification time, which resume data records) whenever it receives
// resume data naming another place, so that a partial file outlives the
// session's temporary directory, the daemon and a reboot.
//
// # Checkpoints and kill -9
//
// A download task gives resume data only by stopping. While a resumable
// download runs, the runner therefore stops it into resume data and
// continues it with a range request at most once per
// Options.CheckpointInterval (5 s), and only after
// Options.CheckpointBytes (8 MiB) more arrived; the resume data goes to
// the daemon as a Progress checkpoint, which stores it with the job. A
// daemon killed with SIGKILL loses what arrived since the last
// checkpoint: the next daemon continues from that checkpoint. The
// partial file then holds more bytes than the checkpoint recorded; the
// runner truncates it back to the recorded length once the bytes at the
// recorded end still match the checkpoint's fingerprint, and starts the
// download over otherwise. A download that cannot be resumed (no strong
// validator, no byte ranges, a content coding) is never checkpointed and
// starts over after a kill.
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
