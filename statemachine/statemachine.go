package statemachine

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

//go:embed pipeline.asl.json
var standard []byte

//go:embed pipeline.express.asl.json
var express []byte

// Standard returns the Standard workflow definition, with its ${...}
// placeholders (see Substitutions).
func Standard() []byte { return clone(standard) }

// Express returns the Express workflow definition, with its placeholders.
func Express() []byte { return clone(express) }

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// Placeholders of the definitions, set like CloudFormation's
// DefinitionSubstitutions (deploy/aws/template.yaml).
const (
	// TaskQueueURL is the SQS task queue workers consume (both variants).
	TaskQueueURL = "TaskQueueUrl"
	// BucketName is the one upload bucket a state machine serves.
	BucketName = "BucketName"
	// TaskFunctionARN is the worker's Lambda function (Express variant).
	TaskFunctionARN = "TaskFunctionArn"
	// FailureQueueURL is the SQS queue failed Express executions are
	// recorded in, for tenantry sfn replay (Express variant).
	FailureQueueURL = "FailureQueueUrl"
)

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Placeholders returns the ${...} names def uses, sorted.
func Placeholders(def []byte) []string {
	seen := map[string]bool{}
	for _, m := range placeholderRE.FindAllSubmatch(def, -1) {
		seen[string(m[1])] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Substitute replaces every ${Name} in def with vars[Name], JSON-escaped
// (placeholders sit inside JSON strings). A placeholder without a value, or
// a value for a name def does not use, is an error: both are deployment
// mistakes.
func Substitute(def []byte, vars map[string]string) ([]byte, error) {
	used := map[string]bool{}
	var missing []string
	out := placeholderRE.ReplaceAllFunc(def, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		used[name] = true
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		q, _ := json.Marshal(v)
		return q[1 : len(q)-1]
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("statemachine: no value for ${%s}", strings.Join(missing, "}, ${"))
	}
	for k := range vars {
		if !used[k] {
			return nil, fmt.Errorf("statemachine: the definition does not use ${%s}", k)
		}
	}
	if !json.Valid(out) {
		return nil, fmt.Errorf("statemachine: the substituted definition is not valid JSON")
	}
	return out, nil
}
