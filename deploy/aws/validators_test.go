package deployaws_test

// Third-party validation of the template:
//   - AWS CloudFormation Guard 3 with the AWS Control Tower proactive
//     controls (both shipped by npm @cdklabs/cdk-validator-cfnguard), run on
//     the template rendered for every parameter scenario;
//   - every resource type, property, nested property, required property,
//     enumerated value and Fn::GetAtt attribute checked against the CDK
//     team's CloudFormation specification database (npm
//     @aws-cdk/aws-service-spec), which is generated from the CloudFormation
//     registry schemas.
// Both are installed by install-validators.sh (pinned in package-lock.json).

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	guardPackage = "@cdklabs/cdk-validator-cfnguard"
	specPackage  = "@aws-cdk/aws-service-spec"
)

// validatorModules finds the node_modules directory holding the validators:
// $TENANTRY_AWS_VALIDATORS (required to hold them when set), else
// $TENANTRY_NODE_MODULES or install-validators.sh's place
// ($TENANTRY_STACK_DIR/aws-validators) when they hold them; otherwise the
// test is skipped.
func validatorModules(t *testing.T) string {
	t.Helper()
	has := func(dir string) bool {
		for _, p := range []string{guardPackage, specPackage} {
			if _, err := os.Stat(filepath.Join(dir, p, "package.json")); err != nil {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("TENANTRY_AWS_VALIDATORS"); dir != "" {
		if !has(dir) {
			t.Fatalf("TENANTRY_AWS_VALIDATORS=%s lacks %s or %s: run bash deploy/aws/install-validators.sh", dir, guardPackage, specPackage)
		}
		return dir
	}
	stackDir := os.Getenv("TENANTRY_STACK_DIR")
	if stackDir == "" {
		stackDir = filepath.Join(repoRoot(t), ".stack")
	}
	for _, dir := range []string{
		os.Getenv("TENANTRY_NODE_MODULES"),
		filepath.Join(stackDir, "aws-validators", "node_modules"),
	} {
		if dir != "" && has(dir) {
			return dir
		}
	}
	t.Skip(`TENANTRY_AWS_VALIDATORS is unset: eval "$(bash deploy/aws/install-validators.sh env)" to run the third-party validators`)
	return ""
}

// renderAll renders the template, parameters substituted, for every
// scenario.
func renderAll(tpl *cfnTemplate) ([]scenario, []*cfnTemplate, error) {
	scs, err := tpl.scenarios(conditionSamples)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*cfnTemplate, len(scs))
	for i, sc := range scs {
		params, err := tpl.parameterValues(sc)
		if err != nil {
			return nil, nil, err
		}
		if out[i], err = tpl.render(sc, params); err != nil {
			return nil, nil, err
		}
	}
	return scs, out, nil
}

var (
	ctRuleID       = regexp.MustCompile(`\[(CT\.[A-Z0-9]+\.PR\.[0-9]+)\]`)
	resourceInPath = regexp.MustCompile(`^/Resources/([A-Za-z0-9]+)(/|$)`)
)

// guardFailure is one control that failed for one resource.
type guardFailure struct{ Rule, Resource string }

// parseGuardReport extracts (control id, resource) pairs from cfn-guard's
// structured JSON output (one report per data file).
func parseGuardReport(out []byte) (map[string][]guardFailure, error) {
	var reports []struct {
		Name         string            `json:"name"`
		Status       string            `json:"status"`
		NotCompliant []json.RawMessage `json:"not_compliant"`
	}
	if err := json.Unmarshal(out, &reports); err != nil {
		return nil, fmt.Errorf("cfn-guard output: %w", err)
	}
	res := map[string][]guardFailure{}
	for _, r := range reports {
		for _, nc := range r.NotCompliant {
			var tree any
			if err := json.Unmarshal(nc, &tree); err != nil {
				return nil, err
			}
			ids := map[string]bool{}
			resources := map[string]bool{}
			walk(tree, "", func(p string, v any) {
				s, ok := v.(string)
				if !ok {
					return
				}
				for _, m := range ctRuleID.FindAllStringSubmatch(s, -1) {
					ids[m[1]] = true
				}
				if strings.HasSuffix(p, "/path") {
					if m := resourceInPath.FindStringSubmatch(s); m != nil {
						resources[m[1]] = true
					}
				}
			})
			if len(ids) == 0 {
				ids["(rule without a CT id)"] = true
			}
			if len(resources) == 0 {
				resources["(template)"] = true
			}
			for id := range ids {
				for rsc := range resources {
					res[r.Name] = append(res[r.Name], guardFailure{Rule: id, Resource: rsc})
				}
			}
		}
	}
	return res, nil
}

// guardBinary is cfn-guard for this machine inside the npm package.
func guardBinary(t *testing.T, modules string) string {
	t.Helper()
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if runtime.GOOS != "linux" || arch == "" {
		t.Skipf("the npm package ships cfn-guard for linux/amd64 and linux/arm64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	return filepath.Join(modules, guardPackage, "bin", "ubuntu", arch, "cfn-guard")
}

// guardExceptions reads Metadata.GuardExceptions of every resource: the
// controls it is allowed to fail, each with a reason.
func guardExceptions(tpl *cfnTemplate) (map[guardFailure]string, []string) {
	out := map[guardFailure]string{}
	var problems []string
	for id, def := range tpl.Resources {
		for _, e := range asList(get(def, "Metadata", "GuardExceptions")) {
			rule, _ := get(e, "Rule").(string)
			reason, _ := get(e, "Reason").(string)
			if !ctRuleID.MatchString("["+rule+"]") || len(strings.TrimSpace(reason)) < 20 {
				problems = append(problems, fmt.Sprintf("%s: guard exception %q needs a CT.X.PR.N id and a reason", id, rule))
				continue
			}
			out[guardFailure{Rule: rule, Resource: id}] = reason
		}
	}
	return out, problems
}

// TestControlTowerGuardRules runs every AWS Control Tower proactive control
// that the package ships against the template rendered for every scenario.
// A failing control must be declared, with its reason, in the resource's
// Metadata.GuardExceptions; a declared exception that no longer fails is an
// error too.
func TestControlTowerGuardRules(t *testing.T) {
	t.Parallel()
	modules := validatorModules(t)
	guard := guardBinary(t, modules)
	rulesDir := filepath.Join(modules, guardPackage, "rules", "control-tower", "cfn-guard")
	checkGuard(t, guard, rulesDir, loadTemplate(t), t.TempDir())
}

// checkGuard runs cfn-guard over the covering scenarios of tpl (written as
// JSON under tmp) and reports every failing control that the resource does
// not declare as an exception, and every stale exception.
func checkGuard(t reporter, guard, rulesDir string, tpl *cfnTemplate, tmp string) {
	scs, rendered, err := renderAll(tpl)
	if err != nil {
		t.Error(err)
		return
	}
	scs, rendered = covering(scs, rendered)
	names := map[string]string{}
	for i, r := range rendered {
		data, err := json.MarshalIndent(r.Raw, "", " ")
		if err != nil {
			t.Error(err)
			return
		}
		path := filepath.Join(tmp, fmt.Sprintf("scenario-%03d.json", i))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Error(err)
			return
		}
		names[path] = scs[i].String()
	}
	folders, err := guardFolders(tpl, rulesDir)
	if err != nil {
		t.Error(err)
		return
	}
	args := []string{"validate", "--data", tmp, "--structured", "--output-format", "json", "--show-summary", "none"}
	for _, f := range folders {
		args = append(args, "--rules", filepath.Join(rulesDir, f))
	}
	cmd := exec.Command(guard, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	// cfn-guard exits 19 when a rule fails; anything else non-zero is trouble.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 19) {
		t.Errorf("cfn-guard: %v: %s", err, stderr.String())
		return
	}
	failures, err := parseGuardReport(stdout.Bytes())
	if err != nil {
		t.Error(err)
		return
	}
	if len(failures) == 0 && stdout.Len() < 100 {
		t.Errorf("cfn-guard reported nothing: %q", stdout.String())
		return
	}
	allowed, problems := guardExceptions(tpl)
	for _, p := range problems {
		t.Error(p)
	}
	hit := map[guardFailure]bool{}
	reported := map[guardFailure]bool{}
	for file, fs := range failures {
		for _, f := range fs {
			if _, ok := allowed[f]; ok {
				hit[f] = true
				continue
			}
			if !reported[f] {
				reported[f] = true
				t.Errorf("%s fails %s (scenario %s); fix it or add a GuardExceptions entry with the reason", f.Resource, f.Rule, names[file])
			}
		}
	}
	for f := range allowed {
		if !hit[f] {
			t.Errorf("%s declares a guard exception for %s, which it no longer fails", f.Resource, f.Rule)
		}
	}
	t.Logf("cfn-guard: %d scenarios against the controls in %v", len(rendered), folders)
}

// guardRuleFolders maps CloudFormation service names to the Control Tower
// rule folder that covers them where the folder is not the lower-case name.
var guardRuleFolders = map[string]string{
	"KMS": "keymanagementservice", "IAM": "identityandaccessmanagement", "Logs": "cloudwatch",
	"AutoScaling": "ec2autoscaling", "ElasticLoadBalancingV2": "elasticloadbalancing",
	"DMS": "databasemigrationservice", "DocDB": "documentdb", "OpenSearchService": "opensearchservice",
	"NetworkFirewall": "networkfirewall", "WAFv2": "waf",
}

// guardFolders picks the rule folders of the services the template uses
// (running all of them costs time and checks nothing more).
func guardFolders(tpl *cfnTemplate, rulesDir string) ([]string, error) {
	set := map[string]bool{}
	for _, def := range tpl.Resources {
		typ, _ := def["Type"].(string)
		parts := strings.Split(typ, "::")
		if len(parts) != 3 {
			continue
		}
		folder := guardRuleFolders[parts[1]]
		if folder == "" {
			folder = strings.ToLower(parts[1])
		}
		if st, err := os.Stat(filepath.Join(rulesDir, folder)); err == nil && st.IsDir() {
			set[folder] = true
		}
	}
	if len(set) < 5 {
		return nil, fmt.Errorf("only %v of the Control Tower rule folders apply; the package layout changed?", sortedKeys(set))
	}
	return sortedKeys(set), nil
}

// covering keeps the scenarios needed for every condition to be seen both
// true and false and every enumerated parameter value to appear (where the
// Rules allow), so an expensive validator runs a handful of times, not all.
func covering(scs []scenario, rendered []*cfnTemplate) ([]scenario, []*cfnTemplate) {
	seen := map[string]bool{}
	var outS []scenario
	var outR []*cfnTemplate
	for i, sc := range scs {
		var keys []string
		for c, v := range sc.Conds {
			keys = append(keys, fmt.Sprintf("cond %s=%v", c, v))
		}
		for p, v := range sc.Params {
			keys = append(keys, fmt.Sprintf("param %s=%s", p, v))
		}
		added := false
		for _, k := range keys {
			if !seen[k] {
				seen[k], added = true, true
			}
		}
		if added {
			outS = append(outS, sc)
			outR = append(outR, rendered[i])
		}
	}
	return outS, outR
}

// --- AWS resource specification ---

type specType struct {
	Type          string     `json:"type"`
	Element       *specType  `json:"element"`
	Types         []specType `json:"types"`
	Reference     *specRef   `json:"reference"`
	AllowedValues []any      `json:"allowedValues"`
}

type specRef struct {
	ID string `json:"$ref"`
}

type specProp struct {
	Type          specType   `json:"type"`
	Required      bool       `json:"required"`
	PreviousTypes []specType `json:"previousTypes"`
}

type specEntity struct {
	ID         string              `json:"$id"`
	CfnType    string              `json:"cloudFormationType"`
	Name       string              `json:"name"`
	Properties map[string]specProp `json:"properties"`
	Attributes map[string]specProp `json:"attributes"`
}

type specDB struct {
	resources map[string]*specEntity
	types     map[string]*specEntity
}

var (
	specOnce sync.Once
	specVal  *specDB
	specErr  error
)

func loadSpec(modules string) (*specDB, error) {
	specOnce.Do(func() {
		f, err := os.Open(filepath.Join(modules, specPackage, "db.json.gz"))
		if err != nil {
			specErr = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			specErr = err
			return
		}
		var raw struct {
			Schema struct {
				Resource       struct{ Entities []*specEntity } `json:"resource"`
				TypeDefinition struct{ Entities []*specEntity } `json:"typeDefinition"`
			} `json:"schema"`
		}
		if err := json.NewDecoder(zr).Decode(&raw); err != nil {
			specErr = fmt.Errorf("db.json.gz: %w", err)
			return
		}
		db := &specDB{resources: map[string]*specEntity{}, types: map[string]*specEntity{}}
		for _, e := range raw.Schema.Resource.Entities {
			db.resources[e.CfnType] = e
		}
		for _, e := range raw.Schema.TypeDefinition.Entities {
			db.types[e.ID] = e
		}
		if len(db.resources) < 1000 {
			specErr = fmt.Errorf("db.json.gz holds only %d resource types", len(db.resources))
			return
		}
		specVal = db
	})
	return specVal, specErr
}

// packagedPaths are properties that `aws cloudformation package` rewrites
// from a local path to an S3 location before deployment.
var packagedPaths = map[string]bool{
	"AWS::StepFunctions::StateMachine DefinitionS3Location": true,
}

// checkObject checks the properties of an object against an entity.
func (db *specDB) checkObject(path string, v any, e *specEntity, errs *[]string) {
	m, ok := v.(map[string]any)
	if !ok {
		if _, _, isFn := intrinsic(v); !isFn {
			*errs = append(*errs, fmt.Sprintf("%s: want an object (%s), got %T", path, e.Name, v))
		}
		return
	}
	if _, _, isFn := intrinsic(v); isFn {
		return
	}
	for k, pv := range m {
		p, ok := e.Properties[k]
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: %s has no property %q", path, e.Name, k))
			continue
		}
		var sub []string
		db.checkValue(path+"/"+k, pv, p.Type, &sub)
		if len(sub) > 0 {
			for _, prev := range p.PreviousTypes {
				var alt []string
				db.checkValue(path+"/"+k, pv, prev, &alt)
				if len(alt) == 0 {
					sub = nil
					break
				}
			}
		}
		*errs = append(*errs, sub...)
	}
	for k, p := range e.Properties {
		if _, ok := m[k]; p.Required && !ok {
			*errs = append(*errs, fmt.Sprintf("%s: required property %s missing", path, k))
		}
	}
}

func (db *specDB) checkValue(path string, v any, ty specType, errs *[]string) {
	if _, _, isFn := intrinsic(v); isFn {
		return // Ref, Fn::GetAtt, Fn::Sub...: resolved by CloudFormation
	}
	switch ty.Type {
	case "json":
		return
	case "string", "date-time":
		switch x := v.(type) {
		case string:
			if len(ty.AllowedValues) > 0 && !containsValue(ty.AllowedValues, x) {
				*errs = append(*errs, fmt.Sprintf("%s: %q is not one of %v", path, x, ty.AllowedValues))
			}
		case float64, bool:
		default:
			*errs = append(*errs, fmt.Sprintf("%s: want a string, got %T", path, v))
		}
	case "integer", "number":
		switch x := v.(type) {
		case float64:
			if ty.Type == "integer" && x != float64(int64(x)) {
				*errs = append(*errs, fmt.Sprintf("%s: %v is not an integer", path, x))
			}
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil {
				*errs = append(*errs, fmt.Sprintf("%s: %q is not a number", path, x))
			}
		default:
			*errs = append(*errs, fmt.Sprintf("%s: want a number, got %T", path, v))
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
		case string:
			if x != "true" && x != "false" {
				*errs = append(*errs, fmt.Sprintf("%s: %q is not a boolean", path, x))
			}
		default:
			*errs = append(*errs, fmt.Sprintf("%s: want a boolean, got %T", path, v))
		}
	case "tag":
		if get(v, "Key") == nil || get(v, "Value") == nil {
			*errs = append(*errs, fmt.Sprintf("%s: a tag needs Key and Value", path))
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: want a list, got %T", path, v))
			return
		}
		for i, e := range list {
			db.checkValue(path+"/"+strconv.Itoa(i), e, *ty.Element, errs)
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: want a map, got %T", path, v))
			return
		}
		for k, e := range m {
			db.checkValue(path+"/"+k, e, *ty.Element, errs)
		}
	case "ref":
		e := db.types[ty.Reference.ID]
		if e == nil {
			*errs = append(*errs, fmt.Sprintf("%s: the specification lacks type %s", path, ty.Reference.ID))
			return
		}
		db.checkObject(path, v, e, errs)
	case "union":
		var first []string
		for i, alt := range ty.Types {
			var sub []string
			db.checkValue(path, v, alt, &sub)
			if len(sub) == 0 {
				return
			}
			if i == 0 {
				first = sub
			}
		}
		*errs = append(*errs, first...)
	default:
		*errs = append(*errs, fmt.Sprintf("%s: specification type %q is not understood by this test", path, ty.Type))
	}
}

func containsValue(list []any, s string) bool {
	for _, e := range list {
		if scalarString(e) == s {
			return true
		}
	}
	return false
}

// TestResourcesMatchSpecification checks, for every scenario, each resource
// type, property (nested too), required property and enumerated value, and
// each Fn::GetAtt / ${X.Attr} attribute, against the specification.
func TestResourcesMatchSpecification(t *testing.T) {
	t.Parallel()
	db, err := loadSpec(validatorModules(t))
	if err != nil {
		t.Fatal(err)
	}
	checkSpec(t, db, loadTemplate(t))
}

func checkSpec(t reporter, db *specDB, tpl *cfnTemplate) {
	_, rendered, err := renderAll(tpl)
	if err != nil {
		t.Error(err)
		return
	}
	reported := map[string]bool{}
	report := func(msg string) {
		if !reported[msg] {
			reported[msg] = true
			t.Error(msg)
		}
	}
	for _, r := range rendered {
		for id, def := range r.Resources {
			typ, _ := def["Type"].(string)
			e := db.resources[typ]
			if e == nil {
				report(fmt.Sprintf("%s: resource type %s is not in the AWS specification", id, typ))
				continue
			}
			props, _ := def["Properties"].(map[string]any)
			trimmed := map[string]any{}
			for k, v := range props {
				if _, isPath := v.(string); isPath && packagedPaths[typ+" "+k] {
					continue
				}
				trimmed[k] = v
			}
			var errs []string
			db.checkObject("Resources/"+id, trimmed, e, &errs)
			for _, msg := range errs {
				report(msg)
			}
		}
		check := func(where, res, attr string) {
			def := r.Resources[res]
			if def == nil {
				return // reported by TestEveryScenarioRenders
			}
			typ, _ := def["Type"].(string)
			if e := db.resources[typ]; e != nil {
				if _, ok := e.Attributes[attr]; !ok {
					report(fmt.Sprintf("%s: %s (%s) has no attribute %s; it has %v", where, res, typ, attr, sortedAttrs(e)))
				}
			}
		}
		walk(r.Raw, "", func(p string, v any) {
			k, arg, ok := intrinsic(v)
			if !ok {
				return
			}
			switch k {
			case "Fn::GetAtt":
				if list, _ := arg.([]any); len(list) == 2 {
					check(p, fmt.Sprint(list[0]), fmt.Sprint(list[1]))
				}
			case "Fn::Sub":
				s, _ := arg.(string)
				if list, ok := arg.([]any); ok && len(list) > 0 {
					s, _ = list[0].(string)
				}
				vars, _ := parseSub(s)
				for _, sv := range vars {
					if sv.Attr != "" {
						check(p, sv.Name, sv.Attr)
					}
				}
			}
		})
	}
}

func sortedAttrs(e *specEntity) []string {
	out := make([]string, 0, len(e.Attributes))
	for a := range e.Attributes {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
