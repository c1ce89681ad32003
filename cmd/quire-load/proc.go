package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	stdsync "sync"
	"syscall"
	"time"
)

// clkTck is USER_HZ; 100 on every Linux this runs on.
const clkTck = 100

// procCPU returns the process's user+system CPU time from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// procMem returns VmRSS and VmHWM (peak RSS) in bytes.
func procMem(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if k == "VmRSS" || k == "VmHWM" {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if k == "VmRSS" {
				rss = n << 10
			} else {
				hwm = n << 10
			}
		}
	}
	return rss, hwm, nil
}

// selfCPU is the generator's own user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// boxCPU returns the machine's busy and total jiffies from /proc/stat.
func boxCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, s := range f[1:] {
		n, _ := strconv.ParseInt(s, 10, 64)
		if i >= 8 { // guest time is already in user
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Usage is what a measured phase cost the server, the generator and the box.
type Usage struct {
	Seconds float64 `json:"seconds"`
	// Server: CPU seconds and percent of one core; RSS at the start and
	// end of the phase, the highest RSS sampled during it, and the
	// process's VmHWM (peak since it started).
	ServerCPU     float64 `json:"server_cpu_s"`
	ServerCPUPct  float64 `json:"server_cpu_pct"`
	ServerRSS0    int64   `json:"server_rss_start"`
	ServerRSS1    int64   `json:"server_rss_end"`
	ServerRSSPeak int64   `json:"server_rss_peak"`
	ServerHWM     int64   `json:"server_vmhwm"`
	// Generator (this process): CPU seconds and percent of one core.
	GenCPU    float64 `json:"gen_cpu_s"`
	GenCPUPct float64 `json:"gen_cpu_pct"`
	// Box: percent of all cores busy (everything on the machine), load
	// averages at the end.
	BoxBusyPct float64 `json:"box_busy_pct"`
	LoadAvg    string  `json:"loadavg"`
}

// meter measures a phase: start it, stop it, read the Usage.
type meter struct {
	pid           int
	t0            time.Time
	scpu0, gcpu0  time.Duration
	busy0, total0 int64
	rss0          int64
	mu            stdsync.Mutex
	peak          int64
	stop          chan struct{}
	done          chan struct{}
}

func startMeter(pid int) *meter {
	m := &meter{pid: pid, t0: time.Now(), gcpu0: selfCPU(), stop: make(chan struct{}), done: make(chan struct{})}
	m.busy0, m.total0 = boxCPU()
	if pid > 0 {
		m.scpu0, _ = procCPU(pid)
		m.rss0, _, _ = procMem(pid)
		m.peak = m.rss0
		go func() {
			defer close(m.done)
			tk := time.NewTicker(100 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-m.stop:
					return
				case <-tk.C:
					if rss, _, err := procMem(pid); err == nil {
						m.mu.Lock()
						m.peak = max(m.peak, rss)
						m.mu.Unlock()
					}
				}
			}
		}()
	} else {
		close(m.done)
	}
	return m
}

func (m *meter) end() Usage {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
	el := time.Since(m.t0)
	u := Usage{Seconds: el.Seconds(), LoadAvg: loadAvg()}
	g := selfCPU() - m.gcpu0
	u.GenCPU = g.Seconds()
	u.GenCPUPct = 100 * g.Seconds() / el.Seconds()
	busy, total := boxCPU()
	if total > m.total0 {
		u.BoxBusyPct = 100 * float64(busy-m.busy0) / float64(total-m.total0)
	}
	if m.pid > 0 {
		c, _ := procCPU(m.pid)
		u.ServerCPU = (c - m.scpu0).Seconds()
		u.ServerCPUPct = 100 * u.ServerCPU / el.Seconds()
		u.ServerRSS0 = m.rss0
		u.ServerRSS1, u.ServerHWM, _ = procMem(m.pid)
		m.mu.Lock()
		u.ServerRSSPeak = max(m.peak, u.ServerRSS1)
		m.mu.Unlock()
	}
	return u
}
