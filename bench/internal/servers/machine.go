package servers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Machine describes where a benchmark ran.
type Machine struct {
	NumCPU        int    `json:"nproc"`
	CPUModel      string `json:"cpu_model"`
	MemTotalBytes int64  `json:"mem_total_bytes"`
	Kernel        string `json:"kernel"`
	GoVersion     string `json:"go_version"`
	Java          string `json:"java_version"`
	JVMMaxHeap    string `json:"jvm_default_max_heap"`
	FileSystem    string `json:"work_dir_filesystem"`
	LoadAvgStart  string `json:"loadavg_start"`
	LoadAvgEnd    string `json:"loadavg_end"`
}

// MachineInfo reads /proc and asks java for its version and default heap;
// workDir is where the servers' data goes.
func MachineInfo(workDir string) Machine {
	m := Machine{NumCPU: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if mm := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(b); mm != nil {
			m.CPUModel = strings.TrimSpace(string(mm[1]))
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if mm := regexp.MustCompile(`(?m)^MemTotal:\s*(\d+) kB`).FindSubmatch(b); mm != nil {
			kb, _ := strconv.ParseInt(string(mm[1]), 10, 64)
			m.MemTotalBytes = kb * 1024
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command(javaPath, "-version").CombinedOutput(); err == nil {
		m.Java = strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
	}
	m.JVMMaxHeap = JVMDefaultMaxHeap()
	var st syscall.Statfs_t
	if err := syscall.Statfs(workDir, &st); err == nil {
		m.FileSystem = fsName(st.Type)
	}
	return m
}

func fsName(magic int64) string {
	switch magic {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794c7630:
		return "overlayfs"
	case 0x9123683E:
		return "btrfs"
	}
	return fmt.Sprintf("fs magic %#x", magic)
}

// JVMDefaultMaxHeap is the heap limit (and collector) the JVM picks here
// with no -Xmx.
var JVMDefaultMaxHeap = sync.OnceValue(func() string {
	out, err := exec.Command(javaPath, "-XX:+PrintFlagsFinal", "-version").CombinedOutput()
	if err != nil {
		return "unknown"
	}
	mm := regexp.MustCompile(`(?m)^\s*size_t MaxHeapSize\s*=\s*(\d+)`).FindSubmatch(out)
	if mm == nil {
		return "unknown"
	}
	n, _ := strconv.ParseInt(string(mm[1]), 10, 64)
	gc := "?"
	if g := regexp.MustCompile(`(?m)^\s*bool Use(\w+)GC\s*=\s*true`).FindSubmatch(out); g != nil {
		gc = string(g[1])
	}
	return fmt.Sprintf("%.0f MiB (%s GC)", float64(n)/(1<<20), gc)
})

// LoadAvg is the first three fields of /proc/loadavg.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// NewestSnapshot returns the newest snapshot file in dataDir/version-2
// (by the zxid in its name) and its size.
func NewestSnapshot(dataDir string) (string, int64, error) {
	v2 := filepath.Join(dataDir, "version-2")
	ents, err := os.ReadDir(v2)
	if err != nil {
		return "", 0, err
	}
	var best string
	var bestZxid int64 = -1
	var size int64
	for _, e := range ents {
		hex, ok := strings.CutPrefix(e.Name(), "snapshot.")
		if !ok {
			continue
		}
		z, err := strconv.ParseInt(hex, 16, 64)
		if err != nil || z < bestZxid {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		best, bestZxid, size = e.Name(), z, info.Size()
	}
	if best == "" {
		return "", 0, errors.New("no snapshot in " + v2)
	}
	return best, size, nil
}

// DirUsage is the disk space (allocated blocks) of the files under dir,
// so preallocated log space that was never written is not counted.
func DirUsage(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			}
		}
		return nil
	})
	return total
}
