package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var build struct {
	sync.Mutex
	dir, bin string
	err      error
}

// Binary returns the path of a `tenantry` binary: $TENANTRY_WORKER_BIN if
// set (make bench passes bin/tenantry), else one built once per test
// process with `go build` into a temporary directory (remove it with
// CleanupBinary in TestMain).
func Binary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("TENANTRY_WORKER_BIN"); b != "" {
		return b
	}
	build.Lock()
	defer build.Unlock()
	if build.bin == "" && build.err == nil {
		build.bin, build.err = buildBinary()
	}
	if build.err != nil {
		t.Fatalf("harness: build tenantry: %v", build.err)
	}
	return build.bin
}

// CleanupBinary removes the binary Binary built (call it from TestMain).
func CleanupBinary() {
	build.Lock()
	defer build.Unlock()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
}

func buildBinary() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "tenantry-harness-")
	if err != nil {
		return "", err
	}
	build.dir = dir
	bin := filepath.Join(dir, "tenantry")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/tenantry")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
	}
	return bin, nil
}

// ModuleRoot is the directory holding go.mod, found upwards from the
// working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: go.mod not found")
		}
		dir = parent
	}
}

// FreeAddr returns a free 127.0.0.1 port (for a worker's ops server).
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// WorkerConfig is how a worker process is started for an Env.
type WorkerConfig struct {
	// S3Endpoint overrides the stack's S3 endpoint (a fault proxy).
	S3Endpoint string
	// Settings are extra environment variables (KEY=VALUE: TENANTRY_*,
	// GODEBUG...), applied last.
	Settings []string
	// LogLevel of the worker (default warn).
	LogLevel string
}

// WorkerEnv is the complete environment of a worker process for e: its
// database (worker role), queue, DLQ, bucket, the JWKS of e.Kit, the stack's
// endpoints and credentials, and the ops address. Nothing is inherited from
// the test's own environment except PATH and HOME, so the shared stack's
// TENANTRY_DATABASE_URL can never leak in.
func (e *Env) WorkerEnv(cfg WorkerConfig, opsAddr string) []string {
	if cfg.S3Endpoint == "" {
		cfg.S3Endpoint = e.Stack.S3Endpoint
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"AWS_ACCESS_KEY_ID=" + e.Stack.AccessKey, "AWS_SECRET_ACCESS_KEY=" + e.Stack.SecretKey, "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"TENANTRY_S3_ENDPOINT=" + cfg.S3Endpoint, "TENANTRY_SQS_ENDPOINT=" + e.Stack.SQSEndpoint,
		"TENANTRY_DATABASE_URL=" + e.DB.WorkerURL,
		"TENANTRY_QUEUE_URL=" + e.QueueURL, "TENANTRY_DLQ_URL=" + e.DLQURL, "TENANTRY_BUCKETS=" + e.Bucket,
		"TENANTRY_ENVELOPE_JWKS_FILE=" + e.JWKSFile, "TENANTRY_ENVELOPE_ISSUERS=" + e.Kit.Issuer,
		"TENANTRY_ENVELOPE_AUDIENCE=" + e.Kit.Audience,
		"TENANTRY_EMBED_PROVIDER=offline", "TENANTRY_OPS_ADDR=" + opsAddr, "TENANTRY_LOG_LEVEL=" + cfg.LogLevel,
	}
	return append(env, cfg.Settings...)
}

// Process is one running worker process.
type Process struct {
	cmd  *exec.Cmd
	ops  string
	done chan struct{}
	err  error // after done
}

// Start starts bin with args and env (see WorkerEnv); its output is appended
// to logw. opsAddr is where its ops server listens (TENANTRY_OPS_ADDR).
func Start(bin string, args, env []string, opsAddr string, logw io.Writer) (*Process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logw, logw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("harness: start worker: %w", err)
	}
	p := &Process{cmd: cmd, ops: opsAddr, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// StartWorker starts `bin worker` for e and waits until it is ready.
func (e *Env) StartWorker(ctx context.Context, bin string, cfg WorkerConfig, logw io.Writer) (*Process, error) {
	ops, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	p, err := Start(bin, []string{"worker"}, e.WorkerEnv(cfg, ops), ops, logw)
	if err != nil {
		return nil, err
	}
	if err := p.WaitReady(ctx, 2*time.Minute); err != nil {
		_ = p.Kill()
		return nil, err
	}
	return p, nil
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr is the process's exit error (valid after Done).
func (p *Process) ExitErr() error { return p.err }

// Ops is the ops server address.
func (p *Process) Ops() string { return p.ops }

// WaitReady polls /readyz until it answers 200, the process exits, or
// timeout passes.
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if code, _, err := p.Get(ctx, "/readyz"); err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("harness: worker exited before ready: %w", p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("harness: worker not ready after %s", timeout)
		}
	}
}

var opsClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// Get GETs path on the ops server.
func (p *Process) Get(ctx context.Context, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.ops+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := opsClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, string(b), err
}

// Metrics scrapes /metrics (see ParseMetrics).
func (p *Process) Metrics(ctx context.Context) (Metrics, error) {
	code, body, err := p.Get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("harness: /metrics answered %d", code)
	}
	return ParseMetrics(body), nil
}

// Kill SIGKILLs the process (and its group) and waits for it.
func (p *Process) Kill() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return nil
}

// Stop sends SIGTERM and waits up to timeout for a drained exit; then it
// kills. It returns the exit error of a drained exit.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		_ = p.Kill()
		return fmt.Errorf("harness: worker did not drain within %s", timeout)
	}
}

// PeakRSS is the process's peak resident set size (VmHWM), in bytes.
func (p *Process) PeakRSS() (int64, error) { return procStatus(p.PID(), "VmHWM") }

// RSS is the process's current resident set size (VmRSS), in bytes.
func (p *Process) RSS() (int64, error) { return procStatus(p.PID(), "VmRSS") }

// CPU is the CPU time (user + system) the process has used so far.
func (p *Process) CPU() (time.Duration, error) { return ProcCPU(p.PID()) }

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTick = 100

// ProcCPU is the CPU time (user + system) process pid has used, from
// /proc/<pid>/stat (e.g. a PostgreSQL backend's pg_backend_pid()).
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its closing paren.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("harness: unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("harness: short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("harness: bad /proc/%d/stat times", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTick, nil
}

func procStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		fs := strings.Fields(rest) // "123456 kB"
		if len(fs) != 2 || fs[1] != "kB" {
			return 0, fmt.Errorf("harness: unexpected %s line %q", field, sc.Text())
		}
		kb, err := strconv.ParseInt(fs[0], 10, 64)
		return kb << 10, err
	}
	return 0, fmt.Errorf("harness: no %s in /proc/%d/status", field, pid)
}

// Metrics are Prometheus samples keyed by name and label set as exposed,
// e.g. `tenantry_stage_seconds_sum{stage="embed"}`.
type Metrics map[string]float64

// ParseMetrics parses the Prometheus text format (comments skipped,
// timestamps ignored).
func ParseMetrics(text string) Metrics {
	m := Metrics{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		// The value follows the last space outside the label braces.
		end := strings.LastIndexByte(line, '}')
		var name, rest string
		if end >= 0 {
			name, rest = line[:end+1], line[end+1:]
		} else {
			i := strings.IndexByte(line, ' ')
			if i < 0 {
				continue
			}
			name, rest = line[:i], line[i:]
		}
		fs := strings.Fields(rest)
		if len(fs) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fs[0], 64)
		if err != nil {
			continue
		}
		m[name] = v
	}
	return m
}

// Quantile estimates the q-quantile (0..1) of histogram name from its
// cumulative buckets (all label sets matching match added up): the upper
// bound of the first bucket holding it, +Inf as math.Inf(1); 0 when the
// histogram is empty.
func (m Metrics) Quantile(name string, q float64, match ...string) float64 {
	counts := map[float64]float64{}
	for k, v := range m {
		base, labels, _ := strings.Cut(k, "{")
		if base != name+"_bucket" {
			continue
		}
		ok := true
		for _, want := range match {
			ok = ok && strings.Contains(labels, want)
		}
		_, rest, found := strings.Cut(labels, `le="`)
		if !ok || !found {
			continue
		}
		leText, _, _ := strings.Cut(rest, `"`)
		le, err := strconv.ParseFloat(leText, 64)
		if err != nil {
			continue
		}
		counts[le] += v
	}
	les := make([]float64, 0, len(counts))
	for le := range counts {
		les = append(les, le)
	}
	sort.Float64s(les)
	if len(les) == 0 || counts[les[len(les)-1]] == 0 {
		return 0
	}
	target := q * counts[les[len(les)-1]]
	for _, le := range les {
		if counts[le] >= target {
			return le
		}
	}
	return les[len(les)-1]
}

// Sum adds every sample of metric name (all label sets) whose labels contain
// every one of match (e.g. `stage="embed"`).
func (m Metrics) Sum(name string, match ...string) float64 {
	var s float64
	for k, v := range m {
		base, labels, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, want := range match {
			if !strings.Contains(labels, want) {
				ok = false
			}
		}
		if ok {
			s += v
		}
	}
	return s
}
