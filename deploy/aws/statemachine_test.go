package deployaws_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// definitionPath is where the template's DefinitionS3Location points, from
// the repository root.
const definitionPath = "statemachine/pipeline.asl.json"

// readDefinition returns the ASL text, or fs.ErrNotExist while the state
// machine has not landed.
func readDefinition(root string) ([]byte, error) {
	return os.ReadFile(filepath.Join(root, filepath.FromSlash(definitionPath)))
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// taskResourceActions maps Step Functions service integrations to the IAM
// actions the state machine's role needs for them.
var taskResourceActions = []struct {
	pattern *regexp.Regexp
	actions []string
}{
	{regexp.MustCompile(`^arn:aws:states:::sqs:sendMessage(\.waitForTaskToken)?$`), []string{"sqs:SendMessage"}},
	{regexp.MustCompile(`^arn:aws:states:::lambda:invoke(\.waitForTaskToken)?$`), []string{"lambda:InvokeFunction"}},
	{regexp.MustCompile(`^arn:aws:states:::states:startExecution$`), []string{"states:StartExecution"}},
	{regexp.MustCompile(`^arn:aws:states:::events:putEvents(\.waitForTaskToken)?$`), []string{"events:PutEvents"}},
	// The Express definition names its task function directly (a Lambda
	// ARN as the resource: a synchronous invoke).
	{regexp.MustCompile(`^\$\{TaskFunctionArn\}$`), []string{"lambda:InvokeFunction"}},
}

// expressDefinitionPath is where ExpressPipelineStateMachine's
// DefinitionS3Location points, from the repository root.
const expressDefinitionPath = "statemachine/pipeline.express.asl.json"

// awsSDKService maps aws-sdk integration service names to IAM prefixes
// where they differ.
var awsSDKService = map[string]string{"sfn": "states"}

// stateMachineActions derives the state machine role's actions from the
// definition: one or more actions per Task resource, plus logging/tracing.
// It returns nil, nil while the definition does not exist.
func stateMachineActions(root string) (map[string]bool, error) {
	return stateMachineActionsOf(root, definitionPath)
}

// stateMachineActionsOf is stateMachineActions for the definition at path.
func stateMachineActionsOf(root, path string) (map[string]bool, error) {
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var def map[string]any
	if err := json.Unmarshal(data, &def); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]bool{}
	for _, a := range stateMachinePlatformActions {
		out[a] = true
	}
	var errs []error
	visitStates(def, func(name string, st map[string]any) {
		if mode := get(st, "ItemProcessor", "ProcessorConfig", "Mode"); mode == "DISTRIBUTED" {
			for _, a := range []string{"states:StartExecution", "states:DescribeExecution", "states:StopExecution"} {
				out[a] = true
			}
		}
		if st["Type"] != "Task" {
			return
		}
		res, _ := st["Resource"].(string)
		res = strings.Replace(res, "arn:${AWS::Partition}:", "arn:aws:", 1)
		if svc, action, ok := strings.Cut(strings.TrimPrefix(res, "arn:aws:states:::aws-sdk:"), ":"); ok && strings.HasPrefix(res, "arn:aws:states:::aws-sdk:") {
			if p, ok := awsSDKService[svc]; ok {
				svc = p
			}
			action = strings.SplitN(action, ".", 2)[0]
			out[normalise(svc+":"+strings.ToUpper(action[:1])+action[1:])] = true
			return
		}
		for _, m := range taskResourceActions {
			if m.pattern.MatchString(res) {
				for _, a := range m.actions {
					out[a] = true
				}
				return
			}
		}
		errs = append(errs, fmt.Errorf("state %s: Task resource %q is not mapped to IAM actions in statemachine_test.go", name, res))
	})
	return out, errors.Join(errs...)
}

// visitStates calls fn for every state, including those inside Parallel
// branches and Map processors.
func visitStates(def any, fn func(name string, st map[string]any)) {
	states, _ := get(def, "States").(map[string]any)
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st, _ := states[n].(map[string]any)
		fn(n, st)
		for _, b := range asList(st["Branches"]) {
			visitStates(b, fn)
		}
		for _, key := range []string{"Iterator", "ItemProcessor"} {
			if sub, ok := st[key]; ok {
				visitStates(sub, fn)
			}
		}
	}
}

func TestStateMachine(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	p := tpl.props("PipelineStateMachine")
	if p["StateMachineType"] != "STANDARD" {
		t.Errorf("StateMachineType %v: Standard executions can be redriven", p["StateMachineType"])
	}
	if get(p, "TracingConfiguration", "Enabled") != true {
		t.Error("tracing is off")
	}
	if get(p, "LoggingConfiguration", "IncludeExecutionData") != false {
		t.Error("execution data (envelopes, tenant ids) must stay out of the logs")
	}
	dest := asList(get(p, "LoggingConfiguration", "Destinations"))
	if len(dest) != 1 || get(dest[0], "CloudWatchLogsLogGroup", "LogGroupArn") == nil {
		t.Error("executions must log to the state machine log group")
	}
	loc, _ := p["DefinitionS3Location"].(string)
	if filepath.ToSlash(filepath.Clean(filepath.Join("deploy", "aws", loc))) != definitionPath {
		t.Fatalf("DefinitionS3Location %q does not point at %s", loc, definitionPath)
	}
	data, err := readDefinition(repoRoot(t))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s does not exist yet: the template references it; substitutions and the role are checked once it lands", definitionPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	var def map[string]any
	if err := json.Unmarshal(data, &def); err != nil {
		t.Fatalf("%s: %v", definitionPath, err)
	}
	if len(data) > 1<<20 {
		t.Errorf("definition is %d bytes; Step Functions accepts 1 MiB", len(data))
	}
	used := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(string(data), -1) {
		used[m[1]] = true
	}
	subs, _ := p["DefinitionSubstitutions"].(map[string]any)
	given := map[string]bool{}
	for k := range subs {
		given[k] = true
	}
	if missing := setDiff(used, given); len(missing) > 0 {
		t.Errorf("the definition uses ${%s} but DefinitionSubstitutions does not set them", strings.Join(missing, "}, ${"))
	}
	if extra := setDiff(given, used); len(extra) > 0 {
		t.Errorf("DefinitionSubstitutions sets %v, which the definition never uses", extra)
	}
	// Every Task that waits for a token has a timeout and a heartbeat, so a
	// worker that dies does not leave an execution waiting for a year.
	visitStates(def, func(name string, st map[string]any) {
		res, _ := st["Resource"].(string)
		if st["Type"] == "Task" && strings.HasSuffix(res, ".waitForTaskToken") {
			if st["TimeoutSeconds"] == nil && st["TimeoutSecondsPath"] == nil {
				t.Errorf("state %s waits for a task token without TimeoutSeconds", name)
			}
			if st["HeartbeatSeconds"] == nil && st["HeartbeatSecondsPath"] == nil {
				t.Errorf("state %s waits for a task token without HeartbeatSeconds", name)
			}
		}
	})
	if _, err := stateMachineActions(repoRoot(t)); err != nil {
		t.Error(err)
	}
}
