//go:build unix

package server

import (
	"os"
	"path/filepath"
	"strings"
)

// PowerSupplyDir is where Linux describes power supplies.
const PowerSupplyDir = "/sys/class/power_supply"

// OnACPower reports whether the machine runs on external power, from the
// power supplies described under root (PowerSupplyDir): true when a
// supply of type Mains or USB is online, or when there is no battery at
// all (a desktop, or no sysfs); false when there are batteries and no
// external supply is online.
func OnACPower(root string) bool {
	entries, err := os.ReadDir(root)
	if err != nil {
		return true
	}
	battery := false
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		switch read(filepath.Join(dir, "type")) {
		case "Mains", "USB", "USB_C", "USB_PD":
			if read(filepath.Join(dir, "online")) == "1" {
				return true
			}
		case "Battery":
			battery = true
		}
	}
	return !battery
}

func read(p string) string {
	data, err := os.ReadFile(p)
	if err != nil || len(data) > 64 {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// DefaultConditions are the conditions Run gives discretionary jobs: the
// machine is on external power (OnACPower). Metered networks are not
// detected: a discretionary job runs on any network.
func DefaultConditions() bool { return OnACPower(PowerSupplyDir) }
