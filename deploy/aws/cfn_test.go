package deployaws_test

// A small model of a CloudFormation template for the tests: YAML (with the
// short-form tags) is turned into the JSON form CloudFormation itself uses,
// and the template can be rendered for one assignment of parameter values
// (conditions evaluated, Fn::If and AWS::NoValue resolved, conditional
// resources dropped) the way CloudFormation would.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// repoRoot is the repository root (two levels above this file).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// cfnTemplate is a parsed template in CloudFormation's JSON form.
type cfnTemplate struct {
	Root       string // repository root, for files the template refers to
	Raw        map[string]any
	Parameters map[string]map[string]any
	Mappings   map[string]any
	Conditions map[string]any
	Rules      map[string]any
	Resources  map[string]map[string]any
	Outputs    map[string]map[string]any
}

var (
	templateOnce sync.Once
	templateVal  *cfnTemplate
	templateErr  error
)

// loadTemplate parses deploy/aws/template.yaml once per test binary.
func loadTemplate(t testing.TB) *cfnTemplate {
	t.Helper()
	templateOnce.Do(func() {
		var data []byte
		data, templateErr = os.ReadFile(filepath.Join(repoRoot(t), "deploy", "aws", "template.yaml"))
		if templateErr == nil {
			templateVal, templateErr = parseTemplate(data)
		}
		if templateErr == nil {
			templateVal.Root = repoRoot(t)
		}
	})
	if templateErr != nil {
		t.Fatalf("template.yaml: %v", templateErr)
	}
	return templateVal
}

// parseTemplate turns YAML or JSON template text into a cfnTemplate.
func parseTemplate(data []byte) (*cfnTemplate, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("not a single YAML document")
	}
	v, err := fromYAML(doc.Content[0])
	if err != nil {
		return nil, err
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("top level is not a mapping")
	}
	return fromRaw(raw)
}

// fromRaw builds a cfnTemplate over a template in JSON form.
func fromRaw(raw map[string]any) (*cfnTemplate, error) {
	tpl := &cfnTemplate{Raw: raw}
	sections := map[string]func(map[string]any) error{
		"Parameters": func(m map[string]any) error { return mapOfMaps(m, &tpl.Parameters) },
		"Resources":  func(m map[string]any) error { return mapOfMaps(m, &tpl.Resources) },
		"Outputs":    func(m map[string]any) error { return mapOfMaps(m, &tpl.Outputs) },
		"Mappings":   func(m map[string]any) error { tpl.Mappings = m; return nil },
		"Conditions": func(m map[string]any) error { tpl.Conditions = m; return nil },
		"Rules":      func(m map[string]any) error { tpl.Rules = m; return nil },
	}
	for name, set := range sections {
		sec, present := raw[name]
		if !present {
			continue
		}
		m, ok := sec.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not a mapping", name)
		}
		if err := set(m); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(tpl.Resources) == 0 {
		return nil, errors.New("no Resources")
	}
	return tpl, nil
}

func mapOfMaps(m map[string]any, dst *map[string]map[string]any) error {
	out := make(map[string]map[string]any, len(m))
	for k, v := range m {
		mm, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not a mapping", k)
		}
		out[k] = mm
	}
	*dst = out
	return nil
}

// shortForms maps CloudFormation's YAML short-form tags to their JSON keys.
var shortForms = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub",
	"!Join": "Fn::Join", "!Select": "Fn::Select", "!Split": "Fn::Split", "!If": "Fn::If",
	"!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Contains": "Fn::Contains",
	"!EachMemberEquals": "Fn::EachMemberEquals", "!EachMemberIn": "Fn::EachMemberIn",
	"!RefAll": "Fn::RefAll", "!ValueOf": "Fn::ValueOf", "!ValueOfAll": "Fn::ValueOfAll",
	"!Length": "Fn::Length", "!ToJsonString": "Fn::ToJsonString",
}

// yaml11Booleans are plain scalars YAML 1.1 (CloudFormation's parser) reads
// as booleans while YAML 1.2 reads them as strings: quote them.
var yaml11Booleans = regexp.MustCompile(`^(?i:y|n|yes|no|on|off)$`)

// fromYAML converts a node to CloudFormation's JSON form: maps, slices,
// strings, bools, float64 and nil, with short-form tags expanded.
func fromYAML(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return nil, fmt.Errorf("line %d: YAML anchors and aliases are not supported by CloudFormation", n.Line)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			val, err := fromYAML(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!bool":
			if yaml11Booleans.MatchString(n.Value) {
				return nil, fmt.Errorf("line %d: %q is a boolean in YAML 1.1 only: quote it", n.Line, n.Value)
			}
			v = n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
		case "!!int", "!!float":
			f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
			if err != nil {
				v = n.Value // 0x.. or 0o..: keep the text, CloudFormation sees a string
			} else {
				v = f
			}
		case "!!null":
			v = nil
		default:
			if n.Style == 0 && yaml11Booleans.MatchString(n.Value) {
				return nil, fmt.Errorf("line %d: %q is a boolean in YAML 1.1: quote it", n.Line, n.Value)
			}
			v = n.Value
		}
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	key, ok := shortForms[n.Tag]
	if !ok {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	if key == "Fn::GetAtt" {
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q has no attribute", n.Line, s)
			}
			v = []any{res, attr}
		}
	}
	return map[string]any{key: v}, nil
}

// intrinsic reports whether v is a single-key map naming an intrinsic
// function (or Ref / Condition), and returns the key and argument.
func intrinsic(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, arg := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, arg, true
		}
	}
	return "", nil, false
}

// pseudoParameters are CloudFormation's pseudo parameters.
var pseudoParameters = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

// subVar is one ${...} variable of an Fn::Sub string.
type subVar struct {
	Name string // resource, parameter, pseudo parameter or variable-map key
	Attr string // attribute for ${Resource.Attr}, else ""
}

// parseSub returns the variables of an Fn::Sub string; ${!Literal} is text.
func parseSub(s string) ([]subVar, error) {
	var vars []subVar
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return vars, nil
		}
		s = s[i+2:]
		j := strings.Index(s, "}")
		if j < 0 {
			return nil, errors.New("unterminated ${")
		}
		body := s[:j]
		s = s[j+1:]
		if strings.HasPrefix(body, "!") {
			continue
		}
		if body == "" || strings.ContainsAny(body, " \t\n${") {
			return nil, fmt.Errorf("bad variable ${%s}", body)
		}
		name, attr, hasDot := strings.Cut(body, ".")
		if strings.HasPrefix(body, "AWS::") {
			name, attr, hasDot = body, "", false
		}
		if name == "" || (hasDot && attr == "") {
			return nil, fmt.Errorf("bad variable ${%s}", body)
		}
		vars = append(vars, subVar{Name: name, Attr: attr})
	}
}

// walk calls fn on every value below v with its path.
func walk(v any, path string, fn func(path string, v any)) {
	fn(path, v)
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walk(x[k], path+"/"+k, fn)
		}
	case []any:
		for i, e := range x {
			walk(e, path+"/"+strconv.Itoa(i), fn)
		}
	}
}

// scenario is one assignment of the parameters that conditions and rules
// read, with the conditions it makes true.
type scenario struct {
	Params map[string]string
	Conds  map[string]bool
}

func (s scenario) String() string {
	keys := make([]string, 0, len(s.Params))
	for k := range s.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + s.Params[k]
	}
	return strings.Join(parts, " ")
}

// scenarios enumerates every combination of allowed values of the parameters
// that Conditions and Rules read (samples supplies values for parameters
// without AllowedValues), keeps those the Rules accept and evaluates the
// conditions for each. Parameters no condition reads take sample or default.
func (t *cfnTemplate) scenarios(samples map[string][]string) ([]scenario, error) {
	used := map[string]bool{}
	collect := func(_ string, v any) {
		if k, arg, ok := intrinsic(v); ok && k == "Ref" {
			if s, ok := arg.(string); ok && t.Parameters[s] != nil {
				used[s] = true
			}
		}
	}
	walk(t.Conditions, "", collect)
	walk(t.Rules, "", collect)
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	values := make([][]string, len(names))
	for i, n := range names {
		if av, ok := t.Parameters[n]["AllowedValues"].([]any); ok {
			for _, a := range av {
				values[i] = append(values[i], scalarString(a))
			}
		} else if s, ok := samples[n]; ok {
			values[i] = s
		} else {
			return nil, fmt.Errorf("parameter %s is read by a condition but has no AllowedValues and no sample values", n)
		}
	}
	var out []scenario
	idx := make([]int, len(names))
	for {
		p := map[string]string{}
		for i, n := range names {
			p[n] = values[i][idx[i]]
		}
		sc := scenario{Params: p, Conds: map[string]bool{}}
		ok, err := t.rulesHold(sc)
		if err != nil {
			return nil, err
		}
		if ok {
			for c := range t.Conditions {
				if _, err := t.condition(sc, c, 0); err != nil {
					return nil, err
				}
			}
			out = append(out, sc)
		}
		// next combination
		i := len(idx) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(values[i]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return out, nil
		}
	}
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func (t *cfnTemplate) rulesHold(sc scenario) (bool, error) {
	for name, r := range t.Rules {
		rule, _ := r.(map[string]any)
		if rc, ok := rule["RuleCondition"]; ok {
			hold, err := t.evalBool(sc, rc, 0)
			if err != nil {
				return false, fmt.Errorf("rule %s: %w", name, err)
			}
			if !hold {
				continue
			}
		}
		asserts, _ := rule["Assertions"].([]any)
		for _, a := range asserts {
			am, _ := a.(map[string]any)
			hold, err := t.evalBool(sc, am["Assert"], 0)
			if err != nil {
				return false, fmt.Errorf("rule %s: %w", name, err)
			}
			if !hold {
				return false, nil
			}
		}
	}
	return true, nil
}

func (t *cfnTemplate) condition(sc scenario, name string, depth int) (bool, error) {
	if v, ok := sc.Conds[name]; ok {
		return v, nil
	}
	def, ok := t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("unknown condition %s", name)
	}
	v, err := t.evalBool(sc, def, depth+1)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	sc.Conds[name] = v
	return v, nil
}

func (t *cfnTemplate) evalBool(sc scenario, v any, depth int) (bool, error) {
	if depth > 20 {
		return false, errors.New("conditions nest too deep (cycle?)")
	}
	k, arg, ok := intrinsic(v)
	if !ok {
		return false, fmt.Errorf("not a condition function: %v", v)
	}
	list, _ := arg.([]any)
	switch k {
	case "Condition":
		s, _ := arg.(string)
		return t.condition(sc, s, depth)
	case "Fn::Equals":
		if len(list) != 2 {
			return false, errors.New("Fn::Equals needs two arguments")
		}
		a, err := t.evalString(sc, list[0])
		if err != nil {
			return false, err
		}
		b, err := t.evalString(sc, list[1])
		if err != nil {
			return false, err
		}
		return a == b, nil
	case "Fn::Not":
		if len(list) != 1 {
			return false, errors.New("Fn::Not needs one argument")
		}
		b, err := t.evalBool(sc, list[0], depth+1)
		return !b, err
	case "Fn::And", "Fn::Or":
		if len(list) < 2 || len(list) > 10 {
			return false, fmt.Errorf("%s needs 2 to 10 arguments", k)
		}
		res := k == "Fn::And"
		for _, e := range list {
			b, err := t.evalBool(sc, e, depth+1)
			if err != nil {
				return false, err
			}
			if k == "Fn::And" {
				res = res && b
			} else {
				res = res || b
			}
		}
		return res, nil
	case "Fn::Contains":
		if len(list) != 2 {
			return false, errors.New("Fn::Contains needs two arguments")
		}
		vals, _ := list[0].([]any)
		want, err := t.evalString(sc, list[1])
		if err != nil {
			return false, err
		}
		for _, e := range vals {
			s, err := t.evalString(sc, e)
			if err != nil {
				return false, err
			}
			if s == want {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("%s is not evaluated by these tests", k)
}

func (t *cfnTemplate) evalString(sc scenario, v any) (string, error) {
	if k, arg, ok := intrinsic(v); ok {
		if k == "Ref" {
			name, _ := arg.(string)
			if p, ok := sc.Params[name]; ok {
				return p, nil
			}
			return "", fmt.Errorf("condition reads %s, which is not an enumerated parameter", name)
		}
		return "", fmt.Errorf("%s in a condition is not evaluated by these tests", k)
	}
	switch v.(type) {
	case string, float64, bool:
		return scalarString(v), nil
	}
	return "", fmt.Errorf("not a scalar: %v", v)
}

// noValue marks a value removed by AWS::NoValue.
type noValue struct{}

// render resolves Fn::If and AWS::NoValue for the scenario and drops the
// resources and outputs whose Condition is false. If params is not nil, Refs
// to parameters and Fn::FindInMap over literal keys are replaced by values too.
func (t *cfnTemplate) render(sc scenario, params map[string]any) (*cfnTemplate, error) {
	var rerr error
	var resolve func(v any) any
	resolve = func(v any) any {
		if k, arg, ok := intrinsic(v); ok {
			switch k {
			case "Fn::If":
				list, _ := arg.([]any)
				if len(list) != 3 {
					rerr = errors.Join(rerr, fmt.Errorf("Fn::If needs 3 arguments: %v", arg))
					return noValue{}
				}
				name, _ := list[0].(string)
				c, err := t.condition(sc, name, 0)
				if err != nil {
					rerr = errors.Join(rerr, err)
					return noValue{}
				}
				if c {
					return resolve(list[1])
				}
				return resolve(list[2])
			case "Ref":
				if arg == "AWS::NoValue" {
					return noValue{}
				}
				if name, ok := arg.(string); ok && params != nil {
					if p, ok := params[name]; ok {
						return p
					}
				}
			case "Fn::FindInMap":
				if params != nil {
					if r, ok := t.findInMap(resolve(arg)); ok {
						return r
					}
				}
			}
		}
		switch x := v.(type) {
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				r := resolve(e)
				if _, gone := r.(noValue); !gone {
					out[k] = r
				}
			}
			return out
		case []any:
			out := make([]any, 0, len(x))
			for _, e := range x {
				r := resolve(e)
				if _, gone := r.(noValue); !gone {
					out = append(out, r)
				}
			}
			return out
		}
		return v
	}
	out := &cfnTemplate{
		Root: t.Root, Parameters: t.Parameters, Mappings: t.Mappings, Conditions: t.Conditions, Rules: t.Rules,
		Resources: map[string]map[string]any{}, Outputs: map[string]map[string]any{},
	}
	active := func(def map[string]any) (bool, error) {
		c, ok := def["Condition"].(string)
		if !ok {
			return true, nil
		}
		return t.condition(sc, c, 0)
	}
	for name, def := range t.Resources {
		on, err := active(def)
		if err != nil {
			return nil, err
		}
		if on {
			out.Resources[name] = resolve(def).(map[string]any)
		}
	}
	for name, def := range t.Outputs {
		on, err := active(def)
		if err != nil {
			return nil, err
		}
		if on {
			out.Outputs[name] = resolve(def).(map[string]any)
		}
	}
	out.Raw = map[string]any{}
	for k, v := range t.Raw {
		out.Raw[k] = v
	}
	res := map[string]any{}
	for k, v := range out.Resources {
		res[k] = v
	}
	outs := map[string]any{}
	for k, v := range out.Outputs {
		outs[k] = v
	}
	out.Raw["Resources"], out.Raw["Outputs"] = res, outs
	delete(out.Raw, "Conditions")
	delete(out.Raw, "Rules")
	if params != nil {
		// Once parameters are substituted the rendered copy has no Refs to
		// them left; drop the sections that would still name them.
		delete(out.Raw, "Parameters")
		delete(out.Raw, "Mappings")
		delete(out.Raw, "Metadata")
		for name, def := range out.Resources {
			if _, hasCond := def["Condition"]; hasCond {
				d := map[string]any{}
				for k, v := range def {
					if k != "Condition" {
						d[k] = v
					}
				}
				out.Resources[name] = d
				res[name] = d
			}
		}
	}
	return out, rerr
}

func (t *cfnTemplate) findInMap(arg any) (any, bool) {
	list, ok := arg.([]any)
	if !ok || len(list) != 3 {
		return nil, false
	}
	var keys [3]string
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		keys[i] = s
	}
	m1, ok := t.Mappings[keys[0]].(map[string]any)
	if !ok {
		return nil, false
	}
	m2, ok := m1[keys[1]].(map[string]any)
	if !ok {
		return nil, false
	}
	v, ok := m2[keys[2]]
	return v, ok
}

// reporter is what the checks report to: *testing.T, or findings when a
// test expects a check to object to a broken template.
type reporter interface {
	Errorf(format string, args ...any)
	Error(args ...any)
	Logf(format string, args ...any)
}

// findings collects what a check reports.
type findings struct{ msgs []string }

func (f *findings) Errorf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}
func (f *findings) Error(args ...any)   { f.msgs = append(f.msgs, fmt.Sprint(args...)) }
func (f *findings) Logf(string, ...any) {}

// sampleParameters are values for parameters without a default, used to
// render the template and to exercise AllowedPattern. Each must satisfy its
// parameter's constraints (checked).
var sampleParameters = map[string]any{
	"SubnetIds":                   []any{"subnet-0123456789abcdef0", "subnet-0fedcba9876543210"},
	"SecurityGroupIds":            []any{"sg-0123456789abcdef0"},
	"ImageTag":                    "v1.2.3",
	"ApiTrustedPrincipalArn":      "arn:aws:iam::111122223333:role/backend",
	"OperatorTrustedPrincipalArn": "arn:aws:iam::111122223333:role/oncall",
	"DatabaseHost":                "tenantry.cluster-abc123.us-east-1.rds.amazonaws.com",
	"EnvelopeIssuers":             "https://api.example.com,backend",
	"AuditDatabaseSecretArn":      "arn:aws:secretsmanager:us-east-1:111122223333:secret:tenantry/database/owner-AbCdEf",
	"SupportTrustedPrincipalArn":  "arn:aws:iam::111122223333:role/support",
}

// conditionSamples give values to parameters that conditions read but that
// have no AllowedValues.
var conditionSamples = map[string][]string{
	"AlarmEmail":             {"", "oncall@example.com"},
	"DatabaseOwnerSecretArn": {"", "arn:aws:secretsmanager:us-east-1:111122223333:secret:tenantry/database/owner-AbCdEf"},
	"DatabaseResourceId":     {"", "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0"},
}

// parameterValues is the full parameter assignment of a scenario: its
// enumerated values, then samples, then defaults.
func (t *cfnTemplate) parameterValues(sc scenario) (map[string]any, error) {
	out := map[string]any{}
	for name, def := range t.Parameters {
		switch {
		case sc.Params[name] != "" || hasKey(sc.Params, name):
			out[name] = sc.Params[name]
		case sampleParameters[name] != nil:
			out[name] = sampleParameters[name]
		case def["Default"] != nil:
			out[name] = def["Default"]
		default:
			return nil, fmt.Errorf("parameter %s has no default and no sample value", name)
		}
	}
	return out, nil
}

func hasKey[M ~map[K]V, K comparable, V any](m M, k K) bool {
	_, ok := m[k]
	return ok
}

// resourcesOfType lists the logical ids of resources of a type, sorted.
func (t *cfnTemplate) resourcesOfType(typ string) []string {
	var ids []string
	for id, def := range t.Resources {
		if def["Type"] == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// props returns a resource's Properties.
func (t *cfnTemplate) props(id string) map[string]any {
	p, _ := t.Resources[id]["Properties"].(map[string]any)
	return p
}

// asList returns v as a list (a single value becomes a one-element list).
func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// get follows a path of map keys.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
