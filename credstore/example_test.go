package credstore_test

import (
	"fmt"
	"os"

	"github.com/urlsession-go/urlsession/credstore"
)

func Example() {
	dir, _ := os.MkdirTemp("", "credstore-example")
	defer os.RemoveAll(dir)

	store, err := credstore.New(credstore.Options{Dir: dir, Backend: credstore.BackendFile})
	if err != nil {
		panic(err)
	}
	space := credstore.ProtectionSpace{
		Host:                 "api.example.com",
		Protocol:             "https",
		Realm:                "api",
		AuthenticationMethod: credstore.AuthMethodHTTPBasic,
	}
	store.OnChange(func() { fmt.Println("changed") })
	store.Set(credstore.Credential{User: "alice", Password: "s3cret", Persistence: credstore.Permanent}, space)
	store.Set(credstore.Credential{User: "bob", Password: "hunter2", Persistence: credstore.ForSession}, space)
	store.Close()

	// A new store on the same directory sees the permanent credential only.
	store, _ = credstore.New(credstore.Options{Dir: dir, Backend: credstore.BackendFile})
	defer store.Close()
	def, _ := store.DefaultCredential(space)
	fmt.Println(def)
	fmt.Println(len(store.Credentials(space)), space.ReceivesCredentialSecurely())
	// Output:
	// changed
	// changed
	// {User:"alice" Password:<redacted> Persistence:permanent}
	// 1 true
}

func ExampleStore_SetDefaultCredential() {
	store, _ := credstore.New(credstore.Options{}) // memory only
	proxy := credstore.ProtectionSpace{Host: "proxy.internal", Port: 1080, ProxyType: credstore.ProxySOCKS}
	store.Set(credstore.Credential{User: "first", Password: "1", Persistence: credstore.ForSession}, proxy)
	store.SetDefaultCredential(credstore.Credential{User: "second", Password: "2", Persistence: credstore.ForSession}, proxy)
	def, _ := store.DefaultCredential(proxy)
	fmt.Println(def.User, len(store.Credentials(proxy)), proxy.IsProxy())
	store.Remove(def, proxy)
	_, ok := store.DefaultCredential(proxy)
	fmt.Println(ok)
	// Output:
	// second 2 true
	// false
}
