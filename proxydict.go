package urlsession

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// Keys of Apple's connectionProxyDictionary (CFNetwork's kCFNetworkProxies*
// and kCFStreamPropertySOCKS* constants), as ProxyConfigurationFromDictionary
// reads them.
const (
	ProxyKeyHTTPEnable                = "HTTPEnable"
	ProxyKeyHTTPProxy                 = "HTTPProxy"
	ProxyKeyHTTPPort                  = "HTTPPort"
	ProxyKeyHTTPSEnable               = "HTTPSEnable"
	ProxyKeyHTTPSProxy                = "HTTPSProxy"
	ProxyKeyHTTPSPort                 = "HTTPSPort"
	ProxyKeySOCKSEnable               = "SOCKSEnable"
	ProxyKeySOCKSProxy                = "SOCKSProxy"
	ProxyKeySOCKSPort                 = "SOCKSPort"
	ProxyKeySOCKSVersion              = "kCFStreamPropertySOCKSVersion"
	ProxyKeySOCKSUser                 = "kCFStreamPropertySOCKSUser"
	ProxyKeySOCKSPassword             = "kCFStreamPropertySOCKSPassword"
	ProxyKeyProxyAutoConfigEnable     = "ProxyAutoConfigEnable"
	ProxyKeyProxyAutoConfigURLString  = "ProxyAutoConfigURLString"
	ProxyKeyProxyAutoConfigJavaScript = "ProxyAutoConfigJavaScript"
	ProxyKeyExceptionsList            = "ExceptionsList"
	ProxyKeyExcludeSimpleHostnames    = "ExcludeSimpleHostnames"
)

// ProxyConfigurationFromDictionary reads a proxy dictionary written with
// Apple's connectionProxyDictionary keys (the ProxyKey* constants), as
// code ported from Apple's platforms has it. Enable flags and
// ExcludeSimpleHostnames are bool or integer (non-zero is true); ports are
// integers (or decimal strings); hosts, user, password and URL strings are
// strings; ExceptionsList is []string or []any of strings. HTTPProxy and
// HTTPSProxy are HTTP proxies (the https one reached with CONNECT), port 80
// and 443 when not given; SOCKSProxy is a SOCKS gateway, port 1080 when not
// given, of kCFStreamPropertySOCKSVersion 5 (the default; the host name is
// sent to the gateway) or 4 (resolved locally; also the strings
// "kCFStreamSocketSOCKSVersion4" and "...5"), with the SOCKS user and
// password. A proxy whose Enable flag is false or absent is not used. The
// error names the key whose value cannot be read, never a password.
func ProxyConfigurationFromDictionary(d map[string]any) (*ProxyConfiguration, error) {
	pc := &ProxyConfiguration{}
	var err error
	flag := func(key string) bool {
		v, ok := d[key]
		if !ok || err != nil {
			return false
		}
		switch x := v.(type) {
		case bool:
			return x
		case int:
			return x != 0
		case int64:
			return x != 0
		case float64:
			return x != 0
		}
		err = fmt.Errorf("urlsession: proxy dictionary: %s is not a boolean or number", key)
		return false
	}
	str := func(key string) string {
		v, ok := d[key]
		if !ok || err != nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			err = fmt.Errorf("urlsession: proxy dictionary: %s is not a string", key)
		}
		return s
	}
	port := func(key string, def int) int {
		v, ok := d[key]
		if !ok || err != nil {
			return def
		}
		var n int
		switch x := v.(type) {
		case int:
			n = x
		case int64:
			n = int(x)
		case float64:
			n = int(x)
		case string:
			n, _ = strconv.Atoi(x)
		}
		if n <= 0 || n > 65535 {
			err = fmt.Errorf("urlsession: proxy dictionary: %s is not a port", key)
		}
		return n
	}
	host := func(scheme, hostKey, portKey string, def int) *url.URL {
		h := str(hostKey)
		p := port(portKey, def)
		if h == "" && err == nil {
			err = fmt.Errorf("urlsession: proxy dictionary: %s is missing", hostKey)
		}
		if err != nil {
			return nil
		}
		return &url.URL{Scheme: scheme, Host: net.JoinHostPort(h, strconv.Itoa(p))}
	}
	if flag(ProxyKeyHTTPEnable) {
		pc.HTTPProxy = host("http", ProxyKeyHTTPProxy, ProxyKeyHTTPPort, 80)
	}
	if flag(ProxyKeyHTTPSEnable) {
		pc.HTTPSProxy = host("http", ProxyKeyHTTPSProxy, ProxyKeyHTTPSPort, 443)
	}
	if flag(ProxyKeySOCKSEnable) {
		scheme := "socks5h"
		if v, ok := d[ProxyKeySOCKSVersion]; ok {
			switch v {
			case 4, int64(4), float64(4), "kCFStreamSocketSOCKSVersion4":
				scheme = "socks4"
			case 5, int64(5), float64(5), "kCFStreamSocketSOCKSVersion5":
			default:
				err = fmt.Errorf("urlsession: proxy dictionary: %s is neither 4 nor 5", ProxyKeySOCKSVersion)
			}
		}
		if u := host(scheme, ProxyKeySOCKSProxy, ProxyKeySOCKSPort, 1080); u != nil {
			if user := str(ProxyKeySOCKSUser); user != "" {
				u.User = url.UserPassword(user, str(ProxyKeySOCKSPassword))
			}
			pc.SOCKSProxy = u
		}
	}
	if flag(ProxyKeyProxyAutoConfigEnable) {
		pc.PACURL = str(ProxyKeyProxyAutoConfigURLString)
		pc.PACScript = str(ProxyKeyProxyAutoConfigJavaScript)
		if pc.PACURL == "" && pc.PACScript == "" && err == nil {
			err = fmt.Errorf("urlsession: proxy dictionary: %s without %s or %s", ProxyKeyProxyAutoConfigEnable, ProxyKeyProxyAutoConfigURLString, ProxyKeyProxyAutoConfigJavaScript)
		}
	}
	if v, ok := d[ProxyKeyExceptionsList]; ok {
		switch x := v.(type) {
		case []string:
			pc.Exceptions = append([]string(nil), x...)
		case []any:
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					err = fmt.Errorf("urlsession: proxy dictionary: %s holds a value that is not a string", ProxyKeyExceptionsList)
					break
				}
				pc.Exceptions = append(pc.Exceptions, s)
			}
		default:
			err = fmt.Errorf("urlsession: proxy dictionary: %s is not a list of strings", ProxyKeyExceptionsList)
		}
	}
	pc.ExcludeSimpleHostnames = flag(ProxyKeyExcludeSimpleHostnames)
	if err != nil {
		return nil, err
	}
	if err := pc.validate(); err != nil {
		return nil, err
	}
	return pc, nil
}
