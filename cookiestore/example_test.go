package cookiestore_test

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/urlsession-go/urlsession/cookiestore"
)

func Example() {
	s, err := cookiestore.New(cookiestore.Options{}) // memory only
	if err != nil {
		panic(err)
	}
	defer s.Close()

	u, _ := url.Parse("https://www.example.com/account/login")
	h := http.Header{}
	h.Add("Set-Cookie", "session=abc123; Path=/; Secure; HttpOnly")
	h.Add("Set-Cookie", "theme=dark; Domain=example.com; Path=/; Max-Age=3600")
	h.Add("Set-Cookie", "tracker=1; Domain=other.org") // does not domain-match: ignored
	s.SetCookiesFromResponse(h, u, nil)

	fmt.Println(s.CookieHeader(u))
	shop, _ := url.Parse("http://shop.example.com/")
	fmt.Println(s.CookieHeader(shop)) // not https: no Secure cookie; not www: no host-only cookie
	for _, c := range s.AllCookies() {
		fmt.Println(c.Name, c.Domain, c.Expires.IsZero())
	}
	// Output:
	// session=abc123; theme=dark
	// theme=dark
	// session www.example.com true
	// theme .example.com false
}

func ExampleStore_SetCookiesForURL() {
	s, _ := cookiestore.New(cookiestore.Options{AcceptPolicy: cookiestore.OnlyFromMainDocumentDomain})
	page, _ := url.Parse("https://news.example.com/today")
	img, _ := url.Parse("https://img.example.com/logo.png")
	ad, _ := url.Parse("https://ads.tracker.net/pixel")

	s.SetCookiesForURL([]*http.Cookie{{Name: "cdn", Value: "1"}}, img, page)  // same site as the page
	s.SetCookiesForURL([]*http.Cookie{{Name: "track", Value: "1"}}, ad, page) // third party: refused
	for _, c := range s.AllCookies() {
		fmt.Println(c.Name, c.Domain)
	}
	// Output:
	// cdn img.example.com
}
