// Package urlsession is a Go implementation of Apple's URL Loading System
// (URLSession): sessions with configurations, tasks with Apple's state
// machine, delegates called in Apple's documented order on a serial
// per-session queue, completion handlers and context-first calls, redirects
// under the delegate's control, timeouts, transparent content decoding and
// full transaction metrics, over HTTP/1.1, HTTP/2 and HTTP/3.
//
// # Quick start
//
// The context-first calls run a task and wait for it:
//
//	body, resp, err := urlsession.Shared().Data(ctx, req)
//
// A delegate sees every event of a transfer:
//
//	s, err := urlsession.New(urlsession.DefaultConfiguration(), myDelegate)
//	task := s.DataTask(req)
//	task.Resume()
//
// Bytes streams a body as it arrives, and Session.Client adapts a session to
// code that expects an *http.Client. Download writes a body to a file; a
// download that fails on the network carries resume data in its error
// (Error.DownloadTaskResumeData), which DownloadWithResumeData and
// DownloadTaskWithResumeData continue from (see DownloadTask).
//
// # App Transport Security
//
// Sessions enforce Apple's App Transport Security (ATS) by default, as
// apps on Apple's platforms get it: Shared, DefaultConfiguration,
// EphemeralConfiguration and the zero Configuration all refuse a request
// for an http:// (or ws://) URL whose host is a public domain name. The
// task fails with ErrAppTransportSecurityRequiresSecureConnection (-1022),
// whose *Error names the refused URL, before anything is looked up,
// dialled or sent; redirects are checked at every hop. https connections
// must negotiate TLS 1.2 or later with forward secrecy, or fail with
// ErrSecureConnectionFailed (-1200) before the request is sent. Local
// networking is exempt: IP addresses such as 127.0.0.1 and [::1],
// unqualified names such as localhost, and .local names. Requests that a
// custom Protocol loads are not subject to ATS.
//
// Configuration.TransportSecurity holds Apple's NSAppTransportSecurity
// keys: per-domain exceptions (cleartext, an older TLS version, no forward
// secrecy, with or without subdomains) and the switch that turns ATS off:
//
//	cfg := urlsession.DefaultConfiguration()
//	cfg.TransportSecurity.AllowsArbitraryLoads = true // plain http anywhere
//
// TransportSecurity.Check tells, for a URL and TLS parameters, whether the
// policy allows them and which exception would.
//
// A host that asked, with HTTP Strict Transport Security (RFC 6797), to be
// reached over https only is upgraded before ATS looks at the request:
// Configuration.HSTSStorage (the shared storage of the hsts package by
// default) records the Strict-Transport-Security field of verified https
// responses, and http:// and ws:// URLs of those hosts, redirects
// included, go over https and wss.
//
// # Authentication
//
// A 401 raises a Challenge: HTTP Basic and Digest go to the per-task
// delegate's TaskDidReceiveChallenge, then the session delegate's; the
// session-wide methods (server trust, client certificate, NTLM, Negotiate)
// go to the session delegate's DidReceiveChallenge first. Without a
// delegate, default handling uses the URL's user info, then the credential
// storage's default credential for the protection space, and otherwise
// delivers the 401 as the response; Negotiate uses the user's Kerberos
// credential cache. A credential that worked is saved as its persistence
// says and sent pre-emptively to the same origin afterwards:
//
//	func (d *del) TaskDidReceiveChallenge(s *urlsession.Session, t *urlsession.Task, c *urlsession.Challenge) (urlsession.AuthChallengeDisposition, *urlsession.Credential) {
//		if c.PreviousFailureCount > 0 {
//			return urlsession.CancelAuthenticationChallenge, nil
//		}
//		return urlsession.UseCredential, urlsession.NewCredential("alice", "s3cret", credstore.ForSession)
//	}
//
// A delegate that needs time (it asks a person, it fetches a token) calls
// c.Later() and makes the returned Decision afterwards: the session's other
// callbacks go on meanwhile. Every new TLS connection raises a ServerTrust
// challenge when a delegate implements a challenge method, and
// Configuration.PinnedDomains pins keys as Apple's NSPinnedDomains does.
//
// # Proxies
//
// Configuration.ProxyConfiguration (Apple's connectionProxyDictionary)
// sends requests through HTTP and HTTPS proxies (CONNECT tunnels for https,
// so TLS and HTTP/2 stay end to end), SOCKS4, SOCKS4a and SOCKS5 gateways,
// or the proxies a PAC script chooses, with exceptions; nil means the
// system settings (SystemProxyConfiguration: the environment as curl reads
// it, else GNOME's settings). A proxy's 407 raises a Challenge whose
// ProtectionSpace is the proxy's, answered like a 401, and
// Proxy-Authorization never reaches an origin.
//
// # Names
//
// Apple's names are kept where Go has no convention of its own, so a reader of
// Apple's documentation finds things at once:
//
//	URLSession                              Session, New, Shared
//	URLSessionConfiguration .default        DefaultConfiguration
//	URLSessionConfiguration .ephemeral      EphemeralConfiguration
//	URLSessionConfiguration .background     BackgroundConfiguration (see its doc)
//	URLSessionTask / DataTask / UploadTask  Task, DataTask, UploadTask
//	resume() suspend() cancel()             Resume, Suspend, Cancel
//	dataTask(with:completionHandler:)       DataTaskWithCompletion
//	uploadTask(with:fromFile:)              UploadTaskFromFile
//	uploadTask(withStreamedRequest:)        UploadTaskWithStreamedRequest
//	uploadTask(withResumeData:)             UploadTaskWithResumeData
//	data(for:) upload(for:from:) bytes(for:) Data, Upload, Bytes
//	URLSessionDownloadTask                  DownloadTask, CancelByProducingResumeData
//	download(for:) download(resumeFrom:)    Download, DownloadWithResumeData
//	downloadTask(withResumeData:)           DownloadTaskWithResumeData
//	NSURLSessionDownloadTaskResumeData      Error.DownloadTaskResumeData
//	getTasksWithCompletionHandler           Tasks, AllTasks
//	URLSessionWebSocketTask                 WebSocketTask (Send, Receive, SendPing, CancelWith)
//	URLSessionStreamTask                    StreamTask (ReadData, Write, StartSecureConnection)
//	URLRequest.timeoutInterval              RequestOptions.TimeoutInterval
//	URLError, URLError.Code                 Error, Code (ErrTimedOut, ...)
//	URLSessionTaskMetrics                   TaskMetrics, TransactionMetrics
//	URLProtocol                             Protocol
//	NSAppTransportSecurity (Info.plist)     Configuration.TransportSecurity
//	delegate methods                        DidReceiveResponse, DidReceiveData,
//	                                        WillPerformHTTPRedirection, ...
//
// # Design
//
// Requests are *http.Request and responses *http.Response. A task sends its
// request through an internal pipeline: a follow-up stage (redirects, body
// replay, waiting for connectivity), a transport security stage (ATS's
// cleartext rule), a bridge stage (default headers, Accept-Encoding,
// decoding of gzip, deflate and br) and a dispatch stage that picks the
// protocol by scheme: the Configuration's Protocols first, then http and
// https through a net/http Transport owned by the session, which speaks
// HTTP/2 over TLS when the server offers it through ALPN, or over HTTP/3
// (QUIC, through quic-go) when the server advertised it with Alt-Svc or the
// request assumes it (see Configuration.DisableHTTP3).
//
// # Threading
//
// Sessions and tasks are safe for concurrent use. Every delegate callback and
// completion handler of a session runs on that session's delegate queue, one
// at a time and in event order, never on the goroutine that called Resume. A
// blocking callback delays only its own session, and a callback must not wait
// for another task of its own session (such as with Data), whose callbacks
// need the same queue. Context-first calls load on the caller's goroutine.
//
// # Errors
//
// A task that fails reports an *Error whose Code is Apple's URLError code;
// errors.Is(err, urlsession.ErrTimedOut) and the like test for codes, and a
// cancelled task's error also matches context.Canceled. HTTP status codes
// are never errors: a 404 is a response.
package urlsession
