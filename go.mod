module github.com/urlsession-go/urlsession

go 1.26.0

require github.com/andybalholm/brotli v1.2.8

require github.com/mccutchen/go-httpbin/v2 v2.26.0 // indirect
