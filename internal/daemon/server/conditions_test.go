//go:build unix

package server

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOnACPower(t *testing.T) {
	mk := func(supplies map[string][2]string) string {
		root := t.TempDir()
		for name, tv := range supplies {
			d := filepath.Join(root, name)
			os.MkdirAll(d, 0o700)
			os.WriteFile(filepath.Join(d, "type"), []byte(tv[0]+"\n"), 0o600)
			if tv[1] != "" {
				os.WriteFile(filepath.Join(d, "online"), []byte(tv[1]+"\n"), 0o600)
			}
		}
		return root
	}
	cases := []struct {
		name     string
		supplies map[string][2]string
		want     bool
	}{
		{"desktop", map[string][2]string{}, true},
		{"laptop plugged", map[string][2]string{"AC": {"Mains", "1"}, "BAT0": {"Battery", ""}}, true},
		{"laptop on battery", map[string][2]string{"AC": {"Mains", "0"}, "BAT0": {"Battery", ""}}, false},
		{"usb-c charging", map[string][2]string{"ucsi": {"USB", "1"}, "BAT0": {"Battery", ""}}, true},
		{"battery only", map[string][2]string{"BAT0": {"Battery", ""}}, false},
	}
	for _, c := range cases {
		if got := OnACPower(mk(c.supplies)); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if !OnACPower(filepath.Join(t.TempDir(), "none")) {
		t.Error("no sysfs: want true")
	}
}
