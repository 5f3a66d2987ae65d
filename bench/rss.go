package main

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// resetPeakRSS makes the kernel's peak resident set size of this process
// (VmHWM) start again from the current one, so that each workload reports
// its own peak. It reports false where /proc does not allow it.
//
// The heap an earlier workload left is returned to the kernel first, or it
// would count in the next workload's peak.
func resetPeakRSS() bool {
	debug.FreeOSMemory()
	// "5" resets the peak RSS (proc(5), /proc/pid/clear_refs).
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS is VmHWM of this process in bytes, or 0 when unknown.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
