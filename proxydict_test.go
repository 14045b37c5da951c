package urlsession

import (
	"strings"
	"testing"
)

func TestProxyConfigurationFromDictionary(t *testing.T) {
	pc, err := ProxyConfigurationFromDictionary(map[string]any{
		ProxyKeyHTTPEnable: 1, ProxyKeyHTTPProxy: "proxy.test", ProxyKeyHTTPPort: 3128,
		ProxyKeyHTTPSEnable: true, ProxyKeyHTTPSProxy: "proxy.test",
		ProxyKeySOCKSEnable: 1, ProxyKeySOCKSProxy: "gw.test", ProxyKeySOCKSVersion: "kCFStreamSocketSOCKSVersion4",
		ProxyKeySOCKSUser: "u", ProxyKeySOCKSPassword: "secret",
		ProxyKeyExceptionsList:         []any{"*.local", "169.254/16"},
		ProxyKeyExcludeSimpleHostnames: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if pc.HTTPProxy.String() != "http://proxy.test:3128" || pc.HTTPSProxy.String() != "http://proxy.test:443" ||
		pc.SOCKSProxy.Redacted() != "socks4://u:xxxxx@gw.test:1080" || len(pc.Exceptions) != 2 || !pc.ExcludeSimpleHostnames {
		t.Errorf("got %+v", pc)
	}
	pc, err = ProxyConfigurationFromDictionary(map[string]any{
		ProxyKeyHTTPEnable: 0, ProxyKeyHTTPProxy: "ignored.test",
		ProxyKeyProxyAutoConfigEnable: true, ProxyKeyProxyAutoConfigJavaScript: "function FindProxyForURL(u, h) { return 'DIRECT'; }",
	})
	if err != nil || pc.HTTPProxy != nil || pc.PACScript == "" {
		t.Errorf("PAC: %+v %v", pc, err)
	}
	for _, d := range []map[string]any{
		{ProxyKeyHTTPEnable: 1},
		{ProxyKeyHTTPEnable: "yes", ProxyKeyHTTPProxy: "p"},
		{ProxyKeyHTTPEnable: 1, ProxyKeyHTTPProxy: "p", ProxyKeyHTTPPort: 70000},
		{ProxyKeySOCKSEnable: 1, ProxyKeySOCKSProxy: "g", ProxyKeySOCKSVersion: 6, ProxyKeySOCKSPassword: "secret"},
		{ProxyKeyExceptionsList: "a.test"},
		{ProxyKeyProxyAutoConfigEnable: 1},
		{ProxyKeyExceptionsList: []string{"1.2.3.4/99"}},
	} {
		if _, err := ProxyConfigurationFromDictionary(d); err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("%v: %v", d, err)
		}
	}
}
