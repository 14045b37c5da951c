package proxy

// GNOME's proxy settings (the org.gnome.system.proxy schema), read through
// the gsettings command.

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ErrNoDesktopSettings reports that the desktop has no proxy settings to
// read (no gsettings command, or no GNOME proxy schema).
var ErrNoDesktopSettings = errors.New("no desktop proxy settings")

// GNOMEDesktop reports whether the desktop named by XDG_CURRENT_DESKTOP
// (a colon-separated list) keeps its proxy settings in GNOME's schema:
// GNOME and the desktops built on it (Unity, Cinnamon, Budgie, Pantheon),
// as browsers decide.
func GNOMEDesktop(current string) bool {
	for d := range strings.SplitSeq(current, ":") {
		switch strings.ToUpper(strings.TrimSpace(d)) {
		case "GNOME", "UNITY", "X-CINNAMON", "CINNAMON", "BUDGIE", "BUDGIE-DESKTOP", "PANTHEON", "GNOME-CLASSIC", "GNOME-FLASHBACK":
			return true
		}
	}
	return false
}

// GSettingsOutput runs "gsettings list-recursively org.gnome.system.proxy"
// and returns its output, or ErrNoDesktopSettings when the session is not
// a GNOME desktop's (see GNOMEDesktop: outside one, gsettings would read
// defaults and may create dconf's files), gsettings is not installed or
// it fails. It gives up after two seconds.
func GSettingsOutput(ctx context.Context, getenv Getenv) (string, error) {
	if !GNOMEDesktop(getenv("XDG_CURRENT_DESKTOP")) {
		return "", ErrNoDesktopSettings
	}
	path, err := exec.LookPath("gsettings")
	if err != nil {
		return "", ErrNoDesktopSettings
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "list-recursively", "org.gnome.system.proxy").Output()
	if err != nil {
		return "", ErrNoDesktopSettings
	}
	return string(out), nil
}

// FromGSettings reads the output of "gsettings list-recursively
// org.gnome.system.proxy": mode "manual" gives the http, https, ftp and
// socks hosts and ports (the http proxy's user and password when
// use-authentication is set) with ignore-hosts as exceptions; mode "auto"
// gives autoconfig-url as the second result (a PAC URL); mode "none" or
// anything else gives nil. A socks host is a SOCKS5 gateway with remote
// DNS, as GNOME's applications use it.
func FromGSettings(out string) (cfg *Config, pacURL string) {
	keys := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(strings.TrimSpace(sc.Text()), " ", 3)
		if len(f) != 3 || !strings.HasPrefix(f[0], "org.gnome.system.proxy") {
			continue
		}
		sub := strings.TrimPrefix(strings.TrimPrefix(f[0], "org.gnome.system.proxy"), ".")
		name := f[1]
		if sub != "" {
			name = sub + "." + name
		}
		keys[name] = f[2]
	}
	switch gvString(keys["mode"]) {
	case "manual":
	case "auto":
		return nil, gvString(keys["autoconfig-url"])
	default:
		return nil, ""
	}
	cfg = &Config{}
	read := func(sub string, k Kind) Proxy {
		host := gvString(keys[sub+".host"])
		port := gvInt(keys[sub+".port"])
		if host == "" || port <= 0 || port > 65535 {
			return DirectProxy
		}
		p := Proxy{Kind: k, Addr: net.JoinHostPort(host, strconv.Itoa(port))}
		return p
	}
	cfg.HTTP = read("http", HTTP)
	if gvString(keys["http.use-authentication"]) == "true" {
		if u := gvString(keys["http.authentication-user"]); u != "" {
			cfg.HTTP.User = userinfo(u, gvString(keys["http.authentication-password"]))
		}
	}
	if gvString(keys["use-same-proxy"]) == "true" && !cfg.HTTP.IsDirect() {
		cfg.HTTPS, cfg.FTP = cfg.HTTP, cfg.HTTP
	} else {
		cfg.HTTPS = read("https", HTTP)
		cfg.FTP = read("ftp", HTTP)
	}
	cfg.SOCKS = read("socks", SOCKS5H)
	cfg.Patterns = gvStrings(keys["ignore-hosts"])
	cfg.Exceptions, _ = ParseExceptions(cfg.Patterns...)
	return cfg, ""
}

// gvString reads a GVariant string ('text', "text") or other scalar as
// printed by gsettings.
func gvString(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
		return unescapeGV(v[1 : len(v)-1])
	}
	return v
}

func unescapeGV(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// gvInt reads a GVariant integer, with or without its type ("uint32 8080").
func gvInt(v string) int {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[len(f)-1])
	return n
}

// gvStrings reads a GVariant string array (['a', 'b'] or @as []).
func gvStrings(v string) []string {
	v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "@as"))
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' {
		return nil
	}
	v = v[1 : len(v)-1]
	var out []string
	for i := 0; i < len(v); i++ {
		q := v[i]
		if q != '\'' && q != '"' {
			continue
		}
		var b strings.Builder
		for i++; i < len(v) && v[i] != q; i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		out = append(out, b.String())
	}
	return out
}
