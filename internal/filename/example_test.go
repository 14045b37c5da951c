package filename_test

import (
	"fmt"
	"net/url"

	"github.com/urlsession-go/urlsession/internal/filename"
)

func ExampleSuggest() {
	u, _ := url.Parse("https://example.com/downloads/report%202024.pdf?sig=abc")
	fmt.Println(filename.Suggest("", u))
	fmt.Println(filename.Suggest(`attachment; filename="rates.txt"; filename*=UTF-8''%e2%82%ac%20rates.txt`, u))
	fmt.Println(filename.Suggest(`attachment; filename="../../.bashrc"`, u))
	root, _ := url.Parse("https://example.com/")
	fmt.Println(filename.Suggest("", root))
	// Output:
	// report 2024.pdf
	// € rates.txt
	// bashrc
	// example.com
}
