package statemachinetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Config configures a local Step Functions.
type Config struct {
	// Definition is the ASL, substitutions applied (statemachine.Substitute).
	Definition []byte
	// StateMachineARN names the state machine (default
	// arn:aws:states:us-east-1:123456789012:stateMachine:tenantry-test).
	StateMachineARN string
	// SQSEndpoint is where task messages are sent (AWS JSON 1.0 protocol).
	SQSEndpoint string
	// RetryInterval replaces every retrier's computed wait (default 20ms,
	// so retries are fast; the definition's Retry still decides which
	// errors are retried and how often). Negative keeps the definition's
	// own intervals.
	RetryInterval time.Duration
	// Heartbeat overrides HeartbeatSeconds per Task state name ("*": all).
	Heartbeat map[string]time.Duration
	// Invoke runs a lambda:invoke task synchronously (Express variant):
	// it returns the function's output, or an error name and cause.
	Invoke func(ctx context.Context, state string, payload json.RawMessage) (output json.RawMessage, errName, cause string)
}

// Server is a running local Step Functions.
type Server struct {
	t      testing.TB
	cfg    Config
	srv    *httptest.Server
	ctx    context.Context
	cancel context.CancelFunc
	node   string
	mods   string
	script string

	mu         sync.Mutex
	executions map[string]*Execution // by ARN
	order      []string
	tasks      map[string]*Task // by token
	calls      []Call
	procs      sync.WaitGroup
}

// Call is one Step Functions API call the server received.
type Call struct {
	Op    string // SendTaskSuccess, SendTaskHeartbeat, StartExecution...
	Token string
	State string // the task's state, for SendTask* calls on known tokens
	Error string // the error name of SendTaskFailure
	Cause string
	// Refused is the error the server answered with ("" if accepted).
	Refused string
	At      time.Time
}

// Task is one task delivery (one token).
type Task struct {
	Token      string
	State      string
	Execution  string
	Heartbeats int
	// Status is pending, succeeded, failed or timed_out.
	Status string
	Output string
	Error  string
	Cause  string

	heartbeat  time.Duration
	beat       *time.Timer
	deadline   *time.Timer
	done       chan struct{}
	registered time.Time
}

// Event is one interpreter event (compacted).
type Event struct {
	Type    string `json:"type"`
	State   string `json:"state,omitempty"`
	Index   *int   `json:"index,omitempty"`
	Error   string `json:"error,omitempty"`
	Cause   string `json:"cause,omitempty"`
	Attempt *int   `json:"attempt,omitempty"`
}

// Execution is one execution.
type Execution struct {
	ARN    string
	Name   string
	Input  string
	Status string // RUNNING, SUCCEEDED, FAILED
	Output string
	Error  string
	Cause  string
	Start  time.Time
	Stop   time.Time
	Events []Event
	Stderr string

	done chan struct{}
}

// Start starts a local Step Functions for the test; it skips the test when
// the Node toolchain is not configured.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	node, mods := os.Getenv("TENANTRY_NODE"), os.Getenv("TENANTRY_NODE_MODULES")
	if node == "" || mods == "" {
		t.Skip("TENANTRY_NODE / TENANTRY_NODE_MODULES not set: run via `make test` (starts the local stack)")
	}
	if cfg.StateMachineARN == "" {
		cfg.StateMachineARN = "arn:aws:states:us-east-1:123456789012:stateMachine:tenantry-test"
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = 20 * time.Millisecond
	}
	if !json.Valid(cfg.Definition) {
		t.Fatal("statemachinetest: Definition is not JSON")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		t: t, cfg: cfg, ctx: ctx, cancel: cancel, node: node, mods: mods, script: HarnessScript(t),
		executions: map[string]*Execution{}, tasks: map[string]*Task{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.close)
	return s
}

// HarnessScript is the path of statemachine/harness/run.mjs.
func HarnessScript(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("statemachinetest: cannot locate the harness script")
	}
	return filepath.Join(filepath.Dir(file), "..", "harness", "run.mjs")
}

// URL is the Step Functions endpoint (sfn.Options.BaseEndpoint).
func (s *Server) URL() string { return s.srv.URL }

// StateMachineARN is the ARN executions are started on.
func (s *Server) StateMachineARN() string { return s.cfg.StateMachineARN }

func (s *Server) close() {
	s.cancel()
	s.mu.Lock()
	for _, tk := range s.tasks {
		s.closeTask(tk, "failed", "", "States.Runtime", "server closed")
	}
	s.mu.Unlock()
	s.procs.Wait()
	s.srv.Close()
}

// Calls returns the API calls received, in order; op "" means all.
func (s *Server) Calls(op string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Tasks returns a copy of every task delivery, in registration order.
func (s *Server) Tasks() []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Task, 0, len(s.tasks))
	for _, tk := range s.tasks {
		c := *tk
		c.beat, c.deadline, c.done = nil, nil, nil
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].registered.Before(out[j].registered) })
	return out
}

// Wait waits for the execution to end and returns it.
func (s *Server) Wait(t testing.TB, arn string, timeout time.Duration) Execution {
	t.Helper()
	s.mu.Lock()
	ex := s.executions[arn]
	s.mu.Unlock()
	if ex == nil {
		t.Fatalf("statemachinetest: no execution %s", arn)
	}
	select {
	case <-ex.done:
	case <-time.After(timeout):
		t.Fatalf("statemachinetest: execution %s still running after %s; tasks: %+v", ex.Name, timeout, s.Tasks())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *ex
	c.Events = append([]Event(nil), ex.Events...)
	return c
}

// ---- HTTP

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch r.URL.Path {
	case "/harness/tasks":
		s.registerTask(w, body)
		return
	case "/harness/wait":
		s.waitTask(w, r, body)
		return
	case "/harness/invoke":
		s.invoke(w, r, body)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSStepFunctions.")
	if !ok || r.Method != http.MethodPost {
		apiError(w, "UnknownOperationException", "unsupported request "+target)
		return
	}
	if r.Header.Get("Authorization") == "" {
		apiError(w, "MissingAuthenticationToken", "request is not signed")
		return
	}
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		apiError(w, "SerializationException", "body is not JSON")
		return
	}
	switch op {
	case "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat":
		s.answer(w, op, in)
	case "StartExecution":
		s.startExecution(w, in)
	case "DescribeExecution":
		s.describeExecution(w, in)
	case "ListExecutions":
		s.listExecutions(w, in)
	default:
		s.record(Call{Op: op, Refused: "UnsupportedOperation"})
		apiError(w, "UnsupportedOperation", op+" is not modelled by the local interpreter")
	}
}

func apiError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.swf.service.v2.model#" + code, "message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(v)
}

func str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

func (s *Server) record(c Call) {
	c.At = time.Now()
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

// ---- tasks

type registration struct {
	Token            string  `json:"token"`
	State            string  `json:"state"`
	Execution        string  `json:"execution"`
	HeartbeatSeconds float64 `json:"heartbeatSeconds"`
	TimeoutSeconds   float64 `json:"timeoutSeconds"`
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func (s *Server) registerTask(w http.ResponseWriter, body []byte) {
	var reg registration
	if err := json.Unmarshal(body, &reg); err != nil || reg.Token == "" {
		http.Error(w, "bad registration", http.StatusBadRequest)
		return
	}
	hb := seconds(reg.HeartbeatSeconds)
	if d, ok := s.cfg.Heartbeat[reg.State]; ok {
		hb = d
	} else if d, ok := s.cfg.Heartbeat["*"]; ok {
		hb = d
	}
	tk := &Task{Token: reg.Token, State: reg.State, Execution: reg.Execution, Status: "pending",
		heartbeat: hb, done: make(chan struct{}), registered: time.Now()}
	s.mu.Lock()
	if _, dup := s.tasks[reg.Token]; dup {
		s.mu.Unlock()
		http.Error(w, "duplicate token", http.StatusConflict)
		return
	}
	s.tasks[reg.Token] = tk
	if hb > 0 {
		tk.beat = time.AfterFunc(hb, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.closeTask(tk, "timed_out", "", "States.HeartbeatTimeout", "no heartbeat within HeartbeatSeconds")
		})
	}
	if to := seconds(reg.TimeoutSeconds); to > 0 {
		tk.deadline = time.AfterFunc(to, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.closeTask(tk, "timed_out", "", "States.Timeout", "the task ran longer than TimeoutSeconds")
		})
	}
	s.mu.Unlock()
	writeJSON(w, map[string]string{"status": "registered"})
}

// closeTask ends a pending task; s.mu must be held.
func (s *Server) closeTask(tk *Task, status, output, errName, cause string) bool {
	if tk.Status != "pending" {
		return false
	}
	tk.Status, tk.Output, tk.Error, tk.Cause = status, output, errName, cause
	if tk.beat != nil {
		tk.beat.Stop()
	}
	if tk.deadline != nil {
		tk.deadline.Stop()
	}
	close(tk.done)
	return true
}

func (s *Server) waitTask(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Token       string  `json:"token"`
		WaitSeconds float64 `json:"waitSeconds"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "bad wait", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	tk := s.tasks[req.Token]
	s.mu.Unlock()
	if tk == nil {
		http.Error(w, "unknown token", http.StatusNotFound)
		return
	}
	select {
	case <-tk.done:
	case <-time.After(seconds(req.WaitSeconds)):
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := map[string]string{"status": tk.Status}
	switch tk.Status {
	case "succeeded":
		resp["output"] = tk.Output
	case "failed", "timed_out":
		resp["status"], resp["error"], resp["cause"] = "failed", tk.Error, tk.Cause
	}
	writeJSON(w, resp)
}

func (s *Server) answer(w http.ResponseWriter, op string, in map[string]any) {
	token := str(in, "taskToken")
	c := Call{Op: op, Token: token, Error: str(in, "error"), Cause: str(in, "cause")}
	s.mu.Lock()
	tk := s.tasks[token]
	if tk != nil {
		c.State = tk.State
	}
	switch {
	case tk == nil:
		c.Refused = "InvalidToken"
	case tk.Status != "pending":
		c.Refused = "TaskTimedOut"
	case op == "SendTaskHeartbeat":
		tk.Heartbeats++
		if tk.beat != nil {
			tk.beat.Reset(tk.heartbeat)
		}
	case op == "SendTaskSuccess":
		out := str(in, "output")
		if !json.Valid([]byte(out)) {
			c.Refused = "InvalidOutput"
		} else if len(out) > 256<<10 {
			c.Refused = "InvalidOutput"
		} else {
			s.closeTask(tk, "succeeded", out, "", "")
		}
	case op == "SendTaskFailure":
		if len(c.Error) > 256 || len(c.Cause) > 32768 {
			c.Refused = "ValidationException"
		} else {
			s.closeTask(tk, "failed", "", c.Error, c.Cause)
		}
	}
	c.At = time.Now()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	if c.Refused != "" {
		apiError(w, c.Refused, "task "+op+" refused")
		return
	}
	writeJSON(w, map[string]any{})
}

func (s *Server) invoke(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		State   string          `json:"state"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "bad invoke", http.StatusBadRequest)
		return
	}
	if s.cfg.Invoke == nil {
		writeJSON(w, map[string]string{"status": "failed", "error": "Lambda.ResourceNotFoundException", "cause": "no Invoke configured"})
		return
	}
	s.record(Call{Op: "Invoke", State: req.State})
	out, errName, cause := s.cfg.Invoke(r.Context(), req.State, req.Payload)
	if errName != "" {
		writeJSON(w, map[string]string{"status": "failed", "error": errName, "cause": cause})
		return
	}
	writeJSON(w, map[string]string{"status": "succeeded", "output": string(out)})
}

// ---- executions

func (s *Server) executionARN(name string) string {
	return strings.Replace(s.cfg.StateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

func (s *Server) startExecution(w http.ResponseWriter, in map[string]any) {
	name, input := str(in, "name"), str(in, "input")
	c := Call{Op: "StartExecution"}
	if str(in, "stateMachineArn") != s.cfg.StateMachineARN {
		c.Refused = "StateMachineDoesNotExist"
		s.record(c)
		apiError(w, c.Refused, "unknown state machine")
		return
	}
	if name == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		name = hex.EncodeToString(b)
	}
	if input == "" {
		input = "{}"
	}
	if !json.Valid([]byte(input)) {
		c.Refused = "InvalidExecutionInput"
		s.record(c)
		apiError(w, c.Refused, "input is not JSON")
		return
	}
	arn := s.executionARN(name)
	s.mu.Lock()
	if ex, ok := s.executions[arn]; ok {
		same := ex.Input == input && ex.Status == "RUNNING"
		s.mu.Unlock()
		if same { // idempotent, as for Standard workflows
			s.record(c)
			writeJSON(w, map[string]any{"executionArn": arn, "startDate": epoch(ex.Start)})
			return
		}
		c.Refused = "ExecutionAlreadyExists"
		s.record(c)
		apiError(w, c.Refused, "Execution Already Exists: '"+arn+"'")
		return
	}
	ex := &Execution{ARN: arn, Name: name, Input: input, Status: "RUNNING", Start: time.Now(), done: make(chan struct{})}
	s.executions[arn] = ex
	s.order = append(s.order, arn)
	s.mu.Unlock()
	s.record(c)
	s.procs.Add(1)
	go s.run(ex)
	writeJSON(w, map[string]any{"executionArn": arn, "startDate": epoch(ex.Start)})
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (s *Server) describeExecution(w http.ResponseWriter, in map[string]any) {
	s.mu.Lock()
	ex := s.executions[str(in, "executionArn")]
	var out map[string]any
	if ex != nil {
		out = s.describe(ex)
		out["input"] = ex.Input
		if ex.Output != "" {
			out["output"] = ex.Output
		}
		if ex.Error != "" {
			out["error"], out["cause"] = ex.Error, ex.Cause
		}
		out["redriveStatus"] = "NOT_REDRIVABLE"
		out["redriveStatusReason"] = "redrive is not modelled by the local interpreter"
	}
	s.mu.Unlock()
	s.record(Call{Op: "DescribeExecution"})
	if ex == nil {
		apiError(w, "ExecutionDoesNotExist", "no such execution")
		return
	}
	writeJSON(w, out)
}

// describe renders the list-item fields; s.mu must be held.
func (s *Server) describe(ex *Execution) map[string]any {
	out := map[string]any{
		"executionArn": ex.ARN, "stateMachineArn": s.cfg.StateMachineARN, "name": ex.Name,
		"status": ex.Status, "startDate": epoch(ex.Start),
	}
	if !ex.Stop.IsZero() {
		out["stopDate"] = epoch(ex.Stop)
	}
	return out
}

func (s *Server) listExecutions(w http.ResponseWriter, in map[string]any) {
	status := str(in, "statusFilter")
	s.mu.Lock()
	var list []map[string]any
	for i := len(s.order) - 1; i >= 0; i-- { // newest first, as AWS lists
		ex := s.executions[s.order[i]]
		if status == "" || ex.Status == status {
			list = append(list, s.describe(ex))
		}
	}
	s.mu.Unlock()
	s.record(Call{Op: "ListExecutions"})
	writeJSON(w, map[string]any{"executions": list})
}

// runConfig is what run.mjs reads on stdin.
type runConfig struct {
	Definition      json.RawMessage `json:"definition"`
	Input           json.RawMessage `json:"input"`
	ExecutionARN    string          `json:"executionArn"`
	ExecutionName   string          `json:"executionName"`
	StateMachineARN string          `json:"stateMachineArn"`
	Control         string          `json:"control"`
	SQSEndpoint     string          `json:"sqsEndpoint"`
	RetryIntervalMs *float64        `json:"retryIntervalMs,omitempty"`
}

func (s *Server) run(ex *Execution) {
	defer s.procs.Done()
	rc := runConfig{
		Definition: s.cfg.Definition, Input: json.RawMessage(ex.Input), ExecutionARN: ex.ARN, ExecutionName: ex.Name,
		StateMachineARN: s.cfg.StateMachineARN, Control: s.srv.URL, SQSEndpoint: s.cfg.SQSEndpoint,
	}
	if s.cfg.RetryInterval > 0 {
		ms := float64(s.cfg.RetryInterval) / float64(time.Millisecond)
		rc.RetryIntervalMs = &ms
	}
	stdin, _ := json.Marshal(rc)
	cmd := exec.CommandContext(s.ctx, s.node, s.script)
	cmd.Env = append(os.Environ(), "TENANTRY_NODE_MODULES="+s.mods)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	var result struct {
		Status string          `json:"status"`
		Output json.RawMessage `json:"output"`
		Error  string          `json:"error"`
		Cause  string          `json:"cause"`
	}
	if err == nil {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var line struct {
				Event  *Event           `json:"event"`
				Result *json.RawMessage `json:"result"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			if line.Event != nil {
				s.mu.Lock()
				ex.Events = append(ex.Events, *line.Event)
				s.mu.Unlock()
			}
			if line.Result != nil {
				_ = json.Unmarshal(*line.Result, &result)
			}
		}
		err = cmd.Wait()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ex.Stop, ex.Stderr = time.Now(), stderr.String()
	switch result.Status {
	case "SUCCEEDED":
		ex.Status, ex.Output = "SUCCEEDED", string(result.Output)
	case "FAILED":
		ex.Status, ex.Error, ex.Cause = "FAILED", result.Error, result.Cause
	default:
		ex.Status, ex.Error, ex.Cause = "FAILED", "Harness.Crashed", fmt.Sprintf("%v: %s", err, stderr.String())
	}
	close(ex.done)
}
