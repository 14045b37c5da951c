package hsts_test

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/urlsession-go/urlsession/hsts"
)

// A store learns a host from an https response and sends its http URLs
// over https from then on.
func ExampleStore() {
	s := hsts.New()
	secure, _ := url.Parse("https://example.com/login")
	header := http.Header{"Strict-Transport-Security": {"max-age=31536000; includeSubDomains"}}
	s.Observe(secure, header, time.Now())

	u, _ := url.Parse("http://www.example.com:80/news")
	if s.Upgrade(u, time.Now()) {
		fmt.Println(u)
	}
	fmt.Println(s.Known("example.org", time.Now()))
	// Output:
	// https://www.example.com/news
	// false
}
