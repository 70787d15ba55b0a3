package statemachine_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/statemachine"
)

// The ASL structure the tests read.
type (
	definition struct {
		StartAt        string
		TimeoutSeconds int
		States         map[string]*state
	}
	state struct {
		Type             string
		Resource         string
		Parameters       map[string]any
		ItemSelector     map[string]any
		ItemsPath        string
		MaxConcurrency   int
		TimeoutSeconds   int
		HeartbeatSeconds int
		Retry            []retrier
		Catch            []catcher
		ItemProcessor    *definition
		Error            string
		ErrorPath        string
		Next             string
		End              bool
	}
	retrier struct {
		ErrorEquals     []string
		IntervalSeconds *float64
		MaxAttempts     *int
		BackoffRate     *float64
		MaxDelaySeconds *float64
		JitterStrategy  string
	}
	catcher struct {
		ErrorEquals []string
		Next        string
		ResultPath  string
	}
)

var variants = []struct {
	name string
	def  func() []byte
	vars map[string]string
}{
	{"standard", statemachine.Standard, map[string]string{
		statemachine.TaskQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/tenantry-sfn-tasks",
		statemachine.BucketName:   "tenantry-uploads",
	}},
	{"express", statemachine.Express, map[string]string{
		statemachine.TaskFunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:tenantry-task",
		statemachine.FailureQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/tenantry-sfn-failures",
		statemachine.BucketName:      "tenantry-uploads",
	}},
}

func parse(t *testing.T, raw []byte) *definition {
	t.Helper()
	var d definition
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("definition: %v", err)
	}
	if len(d.States) == 0 {
		t.Fatal("definition has no states")
	}
	return &d
}

// walk calls fn for every state, Map processors included; parent is the
// enclosing Map state (nil at the top level).
func walk(d *definition, parent *state, fn func(name string, st, parent *state)) {
	names := make([]string, 0, len(d.States))
	for n := range d.States {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st := d.States[n]
		fn(n, st, parent)
		if st.ItemProcessor != nil {
			walk(st.ItemProcessor, st, fn)
		}
	}
}

func names(rs []retrier) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ErrorEquals...)
	}
	return out
}

func caught(cs []catcher) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ErrorEquals...)
	}
	return out
}

// Step Functions' own error names the definitions may use.
var statesErrors = []string{"States.ALL", "States.Timeout", "States.HeartbeatTimeout", "States.TaskFailed"}

// The error names the worker sends (sfntask) and the names the definitions
// retry and catch are the same strings: every task retries the transient
// names and catches the permanent ones (directly or through its Map), never
// retries a permanent one, and no name is misspelt.
func TestErrorNamesMatchTheWorker(t *testing.T) {
	t.Parallel()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			d := parse(t, v.def())
			tasks := 0
			walk(d, nil, func(name string, st, parent *state) {
				for _, n := range append(names(st.Retry), caught(st.Catch)...) {
					if strings.HasPrefix(n, "States.") {
						if !slices.Contains(statesErrors, n) {
							t.Errorf("%s: unknown Step Functions error %q", name, n)
						}
						continue
					}
					if !slices.Contains(sfntask.ErrorNames(), n) && !isIntegrationError(n) {
						t.Errorf("%s: error name %q is never sent by the worker (sfntask.ErrorNames)", name, n)
					}
				}
				if st.Type == "Fail" && st.Error != "" && !strings.HasPrefix(st.Error, "Tenantry.") {
					t.Errorf("%s: Fail error %q is not in the Tenantry namespace", name, st.Error)
				}
				if !workerTask(st) {
					return
				}
				tasks++
				for _, n := range sfntask.RetriedErrorNames {
					if !slices.Contains(names(st.Retry), n) {
						t.Errorf("%s does not retry %s", name, n)
					}
				}
				catches := caught(st.Catch)
				if parent != nil {
					catches = append(catches, caught(parent.Catch)...)
				}
				for _, n := range sfntask.CaughtErrorNames {
					if slices.Contains(names(st.Retry), n) {
						t.Errorf("%s retries %s, which can never succeed", name, n)
					}
					if !slices.Contains(catches, n) && !slices.Contains(catches, "States.ALL") {
						t.Errorf("%s does not catch %s (nor does its Map)", name, n)
					}
				}
				if !slices.Contains(names(st.Retry), "States.Timeout") {
					t.Errorf("%s does not retry States.Timeout (a lost worker)", name)
				}
			})
			if tasks < 7 {
				t.Errorf("only %d Task states", tasks)
			}
		})
	}
}

// workerTask reports whether a Task state is answered by the worker (the
// task queue, or the worker's Lambda handler in the Express variant).
func workerTask(st *state) bool {
	return st.Type == "Task" && (st.Resource == "arn:aws:states:::sqs:sendMessage.waitForTaskToken" || st.Resource == "${TaskFunctionArn}")
}

// isIntegrationError: errors of the service integrations themselves
// (Lambda.*), which the Express variant retries.
func isIntegrationError(n string) bool { return strings.HasPrefix(n, "Lambda.") }

// Retries back off exponentially with full jitter and a ceiling.
func TestRetryPolicies(t *testing.T) {
	t.Parallel()
	for _, v := range variants {
		d := parse(t, v.def())
		walk(d, nil, func(name string, st, _ *state) {
			for i, r := range st.Retry {
				where := v.name + "/" + name + " Retry[" + string(rune('0'+i)) + "]"
				switch {
				case r.IntervalSeconds == nil || *r.IntervalSeconds < 1:
					t.Errorf("%s: IntervalSeconds must be set, >= 1", where)
				case r.BackoffRate == nil || *r.BackoffRate <= 1:
					t.Errorf("%s: BackoffRate must be > 1", where)
				case r.MaxDelaySeconds == nil || *r.MaxDelaySeconds < *r.IntervalSeconds:
					t.Errorf("%s: MaxDelaySeconds must cap the backoff", where)
				case r.JitterStrategy != "FULL":
					t.Errorf("%s: JitterStrategy %q, want FULL", where, r.JitterStrategy)
				case r.MaxAttempts == nil || *r.MaxAttempts < 1 || *r.MaxAttempts > 10:
					t.Errorf("%s: MaxAttempts must be 1..10", where)
				}
			}
		})
	}
}

// Tasks that wait for a worker's token have a timeout, and a heartbeat
// timeout long enough for the worker's heartbeat interval; every message
// carries the token and a stage the worker knows; every stage is used.
func TestTaskStates(t *testing.T) {
	t.Parallel()
	d := parse(t, statemachine.Standard())
	stages := map[sfntask.Stage]bool{}
	walk(d, nil, func(name string, st, _ *state) {
		if st.Type != "Task" {
			return
		}
		if st.Resource != "arn:aws:states:::sqs:sendMessage.waitForTaskToken" {
			t.Errorf("%s: resource %s; Standard tasks reach workers through the task queue", name, st.Resource)
		}
		if st.TimeoutSeconds <= 0 || st.HeartbeatSeconds <= 0 || st.HeartbeatSeconds >= st.TimeoutSeconds {
			t.Errorf("%s: TimeoutSeconds %d, HeartbeatSeconds %d", name, st.TimeoutSeconds, st.HeartbeatSeconds)
		}
		if hb := time.Duration(st.HeartbeatSeconds) * time.Second; hb < 3*sfntask.HeartbeatInterval {
			t.Errorf("%s: HeartbeatSeconds %s < 3 × the worker's heartbeat interval %s", name, hb, sfntask.HeartbeatInterval)
		}
		if st.Parameters["QueueUrl"] != "${TaskQueueUrl}" {
			t.Errorf("%s: QueueUrl %v", name, st.Parameters["QueueUrl"])
		}
		body, _ := st.Parameters["MessageBody"].(map[string]any)
		if body["taskToken.$"] != "$$.Task.Token" || body["execution.$"] != "$$.Execution.Name" {
			t.Errorf("%s: the message must carry $$.Task.Token and $$.Execution.Name: %v", name, body)
		}
		stage := sfntask.Stage(asString(body["stage"]))
		if !slices.Contains(sfntask.Stages(), stage) {
			t.Errorf("%s: unknown stage %q", name, stage)
		}
		stages[stage] = true
		for k := range body {
			if strings.Contains(strings.ToLower(k), "tenant") {
				t.Errorf("%s: the message carries %q: the tenant comes from the envelope only", name, k)
			}
		}
	})
	for _, s := range sfntask.Stages() {
		if !stages[s] {
			t.Errorf("stage %s is never used", s)
		}
	}
	if d.TimeoutSeconds <= 0 {
		t.Error("the execution has no TimeoutSeconds")
	}
}

func asString(v any) string { s, _ := v.(string); return s }

// The Map fans out with a fixed, small concurrency (never from the input).
func TestMapConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	for _, v := range variants {
		maps := 0
		walk(parse(t, v.def()), nil, func(name string, st, _ *state) {
			if st.Type != "Map" {
				return
			}
			maps++
			if st.MaxConcurrency < 1 || st.MaxConcurrency > 10 {
				t.Errorf("%s/%s: MaxConcurrency %d, want 1..10", v.name, name, st.MaxConcurrency)
			}
		})
		if maps != 1 {
			t.Errorf("%s: %d Map states, want 1", v.name, maps)
		}
		if strings.Contains(string(v.def()), "MaxConcurrencyPath") {
			t.Errorf("%s: MaxConcurrencyPath lets the input choose the fan-out", v.name)
		}
	}
}

// The deployed definition uses exactly the substitutions deploy/aws sets.
func TestPlaceholders(t *testing.T) {
	t.Parallel()
	for _, v := range variants {
		var want []string
		for k := range v.vars {
			want = append(want, k)
		}
		sort.Strings(want)
		if got := statemachine.Placeholders(v.def()); !slices.Equal(got, want) {
			t.Errorf("%s: placeholders %v, want %v", v.name, got, want)
		}
	}
}

func TestSubstitute(t *testing.T) {
	t.Parallel()
	def := []byte(`{"a": "${One}", "b": "x${Two}y"}`)
	tests := []struct {
		name    string
		vars    map[string]string
		want    string
		wantErr string
	}{
		{"all set", map[string]string{"One": "1", "Two": `q"uote`}, `{"a": "1", "b": "xq\"uotey"}`, ""},
		{"missing", map[string]string{"One": "1"}, "", "no value for ${Two}"},
		{"unused", map[string]string{"One": "1", "Two": "2", "Three": "3"}, "", "does not use ${Three}"},
	}
	for _, tc := range tests {
		got, err := statemachine.Substitute(def, tc.vars)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
}

// The definitions pass the third-party validator (asl-validator@4.0.0);
// a broken one does not (so the validator really ran).
func TestValidatorAcceptsTheDefinitions(t *testing.T) {
	t.Parallel()
	node, mods := os.Getenv("TENANTRY_NODE"), os.Getenv("TENANTRY_NODE_MODULES")
	if node == "" || mods == "" {
		t.Skip("TENANTRY_NODE / TENANTRY_NODE_MODULES not set: run via `make test`")
	}
	dir := t.TempDir()
	validate := func(name string, def []byte) (string, error) {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, def, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(node, filepath.Join(mods, "asl-validator", "dist", "bin", "asl-validator.js"), "--json-path", p).CombinedOutput()
		return string(out), err
	}
	for _, v := range variants {
		def, err := statemachine.Substitute(v.def(), v.vars)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := validate(v.name, def); err != nil {
			t.Errorf("%s: asl-validator: %v\n%s", v.name, err, out)
		}
	}
	broken := strings.Replace(string(statemachine.Standard()), `"Next": "Store"`, `"Next": "Nowhere"`, 1)
	if out, err := validate("broken", []byte(broken)); err == nil {
		t.Errorf("asl-validator accepted a transition to a missing state:\n%s", out)
	}
}
